// src/http/routes/ops.ts through the Worker's Hono app in Node: readiness with each sink's state, the metrics
// endpoint, and the dead-letter operations behind the policy's operator rules. The objects behind METRICS and
// DEAD_LETTERS are fakes of their RPC methods (their own behaviour is tested in workerd).
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { app } from "../../src/http/app";
import { emptyState, METRICS, observe } from "../../src/metrics/model";
import { fakeNamespace, installCompiledPolicy, loopbackServer, tokenSigner, workerEnv } from "./worker-harness";

const signer = await tokenSigner();
beforeAll(installCompiledPolicy);

let closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers) await close();
  closers = [];
});

/** The metrics shards each hold one request counted under op `ingest`, status 202. */
const metrics = fakeNamespace(() => ({
  snapshot: async () =>
    observe(emptyState(), [{ name: METRICS.httpRequests.name, labels: { op: "ingest", status: "202" }, value: 1 }]),
  observe: async () => {},
}));
const replays: string[] = [];
const deadLetters = fakeNamespace((name) => ({
  count: async () => 2,
  parkedCount: async () => ({ count: 3, oldestMs: 7 }),
  redriveStatus: async () => ({ pending: 1, nextAtMs: 9, failedProbes: 0 }),
  list: async (limit: number) => [{ id: 1, code: "SINK_FAILED", reason: `limit ${limit}`, failedAt: 5 }],
  replay: async () => {
    replays.push(name);
    return { replayed: 2 };
  },
}));

function env(settings: Record<string, string> = {}) {
  return workerEnv({
    ENVIRONMENT: "test",
    LOG_LEVEL: "error",
    JWT_PUBLIC_KEY: signer.publicKeyPem,
    METRICS: metrics,
    DEAD_LETTERS: deadLetters,
    ...settings,
  });
}

async function get(path: string, token: string | null, settings?: Record<string, string>, method = "GET") {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return app.request(path, { method, headers }, env(settings));
}

describe("GET /readyz", () => {
  it("is ready with every sink off", async () => {
    const res = await get("/readyz", null);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", sinks: { neo4j: "off", postgres: "off" } });
  });

  it("probes Neo4j and reports it ok when it answers", async () => {
    const neo4j = await loopbackServer(() => ({ status: 202, body: { data: { values: [[1]] } } }));
    closers.push(neo4j.close);
    const res = await get("/readyz", null, { NEO4J_URL: neo4j.url });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", sinks: { neo4j: "ok", postgres: "off" } });
    expect(neo4j.received).toHaveLength(1);
  });

  it("is degraded (503) when a configured sink is down", async () => {
    const neo4j = await loopbackServer(() => ({ status: 503, body: { errors: [{ code: "Neo.TransientError.x" }] } }));
    closers.push(neo4j.close);
    const res = await get("/readyz", null, { NEO4J_URL: neo4j.url });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "degraded", sinks: { neo4j: "down", postgres: "off" } });
  });

  it("reports Postgres down when its WebSocket proxy cannot be reached", async () => {
    // A port that was free a moment ago: nothing listens on it.
    const gone = await loopbackServer(() => ({ status: 200, body: {} }));
    await gone.close();
    const wsProxy = `${new URL(gone.url).host}/v1`;
    const res = await get("/readyz", null, {
      DATABASE_URL: "postgres://u:p@127.0.0.1:5432/db",
      NEON_WSPROXY: wsProxy,
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "degraded", sinks: { neo4j: "off", postgres: "down" } });
  });
});

describe("GET /metrics", () => {
  it("needs a token, and the metrics:read scope", async () => {
    expect((await get("/metrics", null)).status).toBe(401);
    const res = await get("/metrics", await signer.sign("acme", "coherence:read"));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: "FORBIDDEN" } });
  });

  it("renders every shard's series, merged, in the Prometheus text format", async () => {
    const res = await get("/metrics", await signer.sign("acme", "metrics:read"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await res.text();
    // Eight shards with one request each.
    expect(text).toMatch(new RegExp(`^${METRICS.httpRequests.name}\\{op="ingest",status="202"\\} 8$`, "m"));
  });
});

describe("dead-letter operations", () => {
  it("lists the dead letters for an operator with metrics:read", async () => {
    const res = await get("/v1/ops/dlq", await signer.sign("*", "metrics:read"));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      count: 2,
      messages: [{ id: 1, code: "SINK_FAILED", reason: "limit 100", failedAt: 5 }],
      parked: { count: 3, oldestMs: 7 },
      redrive: { pending: 1, nextAtMs: 9, failedProbes: 0 },
    });
    expect(deadLetters.names.at(-1)).toBe("dlq");
  });

  it("refuses tenant tokens (operator only), whatever their scopes", async () => {
    const res = await get("/v1/ops/dlq", await signer.sign("acme", "metrics:read ops:write"));
    expect(res.status).toBe(403);
    const replay = await get("/v1/ops/dlq/replay", await signer.sign("acme", "ops:write"), {}, "POST");
    expect(replay.status).toBe(403);
  });

  it("replays only with ops:write", async () => {
    const before = replays.length;
    const denied = await get("/v1/ops/dlq/replay", await signer.sign("*", "metrics:read"), {}, "POST");
    expect(denied.status).toBe(403);
    expect(replays.length).toBe(before);
    const res = await get("/v1/ops/dlq/replay", await signer.sign("*", "ops:write"), {}, "POST");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ replayed: 2 });
    expect(replays.length).toBe(before + 1);
  });
});
