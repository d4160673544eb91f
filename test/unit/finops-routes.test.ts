// GET /v1/finops/usage (src/http/routes/finops.ts, src/finops/usage.ts) through the Worker's Hono app in Node:
// the contract's checks in order, then the report read from Upstash's REST API after the tenant's object pushed
// its counters. Upstash is a loopback server answering its pipeline endpoint as Upstash does (base64 strings);
// the tenant objects are fakes of `flushUsage`. Against real Redis: test/e2e/finops.test.ts.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { zeroUnits } from "../../src/finops/cost-model";
import { usageKey } from "../../src/finops/usage";
import { app } from "../../src/http/app";
import { fakeNamespace, installCompiledPolicy, loopbackServer, tokenSigner, workerEnv } from "./worker-harness";

const signer = await tokenSigner();
beforeAll(installCompiledPolicy);

let closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers) await close();
  closers = [];
});

/** Hashes in "Redis", by key, as HGETALL answers them: `[field, value, …]`. */
const hashes: Record<string, string[]> = {
  [usageKey("acme", "2026-11-02")]: [
    "ingest",
    "10",
    "ingest:signals",
    "250",
    "ingest:rejected",
    "1",
    "graphql_query",
    "4",
    "u:worker_requests",
    "14",
    "u:queue_operations",
    "6",
  ],
};

/** Upstash's REST API for HGETALL pipelines, with `Upstash-Encoding: base64` honoured as Upstash does. */
async function upstash() {
  const server = await loopbackServer((req) => {
    if (req.headers.authorization !== "Bearer t0ken") return { status: 401, body: { error: "WRONGPASS" } };
    const commands = JSON.parse(req.body) as string[][];
    const b64 = req.headers["upstash-encoding"] === "base64";
    const enc = (s: string) => (b64 ? Buffer.from(s).toString("base64") : s);
    return {
      status: 200,
      body: commands.map(([name, key]) => ({
        result: name?.toLowerCase() === "hgetall" ? (hashes[key ?? ""] ?? []).map(enc) : null,
      })),
    };
  });
  closers.push(server.close);
  return server;
}

function setup(settings: Record<string, string> = {}, flush: () => Promise<void> = async () => {}) {
  const tenants = fakeNamespace(() => ({ flushUsage: flush }));
  const env = workerEnv({
    ENVIRONMENT: "test",
    LOG_LEVEL: "error",
    JWT_PUBLIC_KEY: signer.publicKeyPem,
    DEV_UNPINNED_DURABLE_OBJECTS: "true",
    TENANT: tenants,
    METRICS: fakeNamespace(() => ({ observe: async () => {} })),
    ...settings,
  });
  const read = async (query: string, token: string | null) =>
    app.request(`/v1/finops/usage?${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }, env);
  return { read, tenants };
}

const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; details?: unknown[] } }).error;

describe("GET /v1/finops/usage", () => {
  it("reads a tenant's days after its object pushed its counters, zero for days without any", async () => {
    const server = await upstash();
    const { read, tenants } = setup({ UPSTASH_REDIS_REST_URL: server.url, UPSTASH_REDIS_REST_TOKEN: "t0ken" });
    const res = await read("tenantId=acme&from=2026-11-01&to=2026-11-02", await signer.sign("acme", "finops:read"));
    expect(res.status).toBe(200);
    const zero = { ingest: 0, graphql_query: 0, graphql_mutation: 0, subscribe: 0 };
    const requests = { ...zero, ingest: 10, graphql_query: 4 };
    expect(await res.json()).toEqual({
      tenantId: "acme",
      days: [
        { date: "2026-11-01", requests: zero, signals: 0, rejected: 0, estimatedCostUsd: 0, units: zeroUnits() },
        {
          date: "2026-11-02",
          requests,
          signals: 250,
          rejected: 1,
          // 14 Worker requests × $0.30/M + 6 queue operations × $0.40/M (finops/prices.json)
          estimatedCostUsd: 0.0000066,
          units: { ...zeroUnits(), worker_requests: 14, queue_operations: 6 },
        },
      ],
    });
    expect(tenants.names).toEqual(["acme"]);
    // One pipeline of one HGETALL per day.
    expect(server.received).toHaveLength(1);
    expect(JSON.parse(server.received[0]?.body ?? "")).toEqual([
      ["hgetall", usageKey("acme", "2026-11-01")],
      ["hgetall", usageKey("acme", "2026-11-02")],
    ]);
  });

  it("lets an operator with finops:read read any tenant", async () => {
    const server = await upstash();
    const { read } = setup({ UPSTASH_REDIS_REST_URL: server.url, UPSTASH_REDIS_REST_TOKEN: "t0ken" });
    const res = await read("tenantId=globex&from=2026-11-01&to=2026-11-01", await signer.sign("*", "finops:read"));
    expect(res.status).toBe(200);
  });

  it("refuses a token without finops:read before looking at the query", async () => {
    const { read } = setup();
    const res = await read("tenantId=&from=bad", await signer.sign("acme", "coherence:read"));
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe("FORBIDDEN");
  });

  it("validates tenantId, the dates and the range, listing each problem", async () => {
    const { read } = setup();
    const token = await signer.sign("acme", "finops:read");
    const bad = await read("tenantId=a%20b&from=2026-02-30&to=2026-03-01", token);
    expect(bad.status).toBe(400);
    const error = await errorOf(bad);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.details?.map((d) => (d as { path: string }).path)).toEqual(["tenantId", "from"]);
    const reversed = await read("tenantId=acme&from=2026-03-02&to=2026-03-01", token);
    expect(reversed.status).toBe(400);
    const long = await errorOf(await read("tenantId=acme&from=2025-01-01&to=2026-01-02", token));
    expect(long.details).toEqual([{ path: "to", message: "at most 366 days per read" }]);
  });

  it("refuses another tenant's usage", async () => {
    const { read } = setup();
    const res = await read("tenantId=globex&from=2026-11-01&to=2026-11-01", await signer.sign("acme", "finops:read"));
    expect(res.status).toBe(403);
  });

  it("answers 503 FINOPS_UNAVAILABLE when the counters are off or their store cannot be reached", async () => {
    const token = await signer.sign("acme", "finops:read");
    const off = setup();
    const res = await off.read("tenantId=acme&from=2026-11-01&to=2026-11-01", token);
    expect(res.status).toBe(503);
    expect((await errorOf(res)).code).toBe("FINOPS_UNAVAILABLE");
    const server = await upstash();
    const failing = setup({ UPSTASH_REDIS_REST_URL: server.url, UPSTASH_REDIS_REST_TOKEN: "t0ken" }, async () => {
      throw new Error("the object could not push its counters");
    });
    const unreachable = await failing.read("tenantId=acme&from=2026-11-01&to=2026-11-01", token);
    expect(unreachable.status).toBe(503);
    expect(await errorOf(unreachable)).toMatchObject({
      code: "FINOPS_UNAVAILABLE",
      message: "the FinOps counter store is unreachable",
    });
    expect(server.received).toHaveLength(0);
  });
});
