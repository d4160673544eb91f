// Fuzzing `npm start` with generated hostile requests (docs/api.md §3, §4.3, §4.4, §4.5, §5.3): ingest bodies, headers,
// GraphQL bodies, methods and paths, raw HTTP bytes and graphql-transport-ws frame sequences, ≥ 10,000 in all with
// a fixed seed. Every answer is < 500 in the contract's error shape, every close code is the contract's; afterwards
// the service still ingests, scores exactly and streams; and its log never holds a token or a configured secret.
// FUZZ_RUNS / FUZZ_SEED scale and vary the run (`npm run fuzz -- --runs N --seed S`).
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { computeScore } from "../../src/domain/score";
import {
  graphqlCaseArb,
  HTTP_TENANT,
  type HttpCase,
  headersCaseArb,
  ingestCaseArb,
  OTHER_TENANT,
  pathsCaseArb,
  scoreSubscribe,
  type Tokens,
  validInit,
  type WireCase,
  WS_TENANT,
  type WsCase,
  wireCaseArb,
  wsCaseArb,
} from "../fuzz/arbitraries";
import {
  type Failure,
  type Group,
  group,
  latencies,
  minimize,
  runGroup,
  serviceCpuSeconds,
  shorten,
  slowest,
} from "../fuzz/groups";
import { checkHttp, checkWire } from "../fuzz/http-oracle";
import { runWs, sendHttp, sendWire } from "../fuzz/send";
import { checkWs, settledFor } from "../fuzz/ws-oracle";
import { mintToken, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";
import { band, ingest, newTenant, readScore, signal } from "./helpers";
import { RawSocket, realtimeUrl } from "./ws-raw";

const SEED = Number(process.env.FUZZ_SEED ?? 424242);
const TOTAL = Number(process.env.FUZZ_RUNS ?? 10_000);
/** Requests in flight at once: enough to overlap I/O, few enough for a 2-core machine. */
const WIDTH = 12;
/** Share of TOTAL per group; WebSocket cases count their frames. */
const SHARE = { ingest: 0.25, headers: 0.15, graphql: 0.17, paths: 0.1, wire: 0.03, ws: 0.3 } as const;

// Dummy sink settings: their hosts never resolve (sinks report `down`, the consumer retries), and their
// passwords must never show up in an answer or a log line.
const NEO4J_USER = "fuzz-neo4j";
const NEO4J_PASSWORD = `neo4jpw-${randomBytes(12).toString("hex")}`;
const PG_PASSWORD = `pgpw-${randomBytes(12).toString("hex")}`;
const SINK_HOSTS = ["neo4j.sink.fuzz.invalid", "postgres.sink.fuzz.invalid"];
const DATABASE_URL = `postgres://fuzz:${PG_PASSWORD}@${SINK_HOSTS[1]}:5432/fuzz`;

let svc: RunningService;
/** Tokens by role for the HTTP tenant and for the WebSocket tenant. */
let httpTokens: Tokens;
let wsTokens: Tokens;
/** Strings no answer may contain: tokens, their signatures, sink passwords and hosts. */
let secrets: string[];

async function tokensFor(tenant: string, foreign: string): Promise<Tokens> {
  const [write, read, noscope] = await Promise.all([
    mintToken(tenant, "coherence:read coherence:write"),
    mintToken(tenant, "coherence:read"),
    mintToken(tenant, "metrics:read"),
  ]);
  return { write, read, noscope, foreign, operator: await mintToken("*", "finops:read metrics:read") };
}

beforeAllOrFail(async () => {
  svc = await startService({
    env: { RPS_MAX: "100000", NEO4J_URL: `http://${SINK_HOSTS[0]}:7474`, NEO4J_USER, NEO4J_PASSWORD, DATABASE_URL },
    // The sinks point at made-up hosts on purpose (their names must never leak into answers): the queue
    // consumer's connection attempts fail name resolution, and the local runtime prints each failure.
    allowLogLines: [/failed to lookup address information/],
  });
  const [otherToken, wsWriter] = await Promise.all([
    mintToken(OTHER_TENANT, "coherence:read coherence:write"),
    mintToken(WS_TENANT, "coherence:read coherence:write"),
  ]);
  [httpTokens, wsTokens] = await Promise.all([tokensFor(HTTP_TENANT, otherToken), tokensFor(WS_TENANT, wsWriter)]);
  wsTokens.foreign = otherToken;
  const all = [...Object.values(httpTokens), ...Object.values(wsTokens)];
  secrets = [
    ...all,
    ...all.map((t) => t.split(".")[2] ?? t),
    NEO4J_PASSWORD,
    PG_PASSWORD,
    Buffer.from(`${NEO4J_USER}:${NEO4J_PASSWORD}`).toString("base64"),
    ...SINK_HOSTS,
  ];
  // The WebSocket tenant gets two signals, so cursors v1.0 and v1.1 exist.
  const seeded = await ingest(svc.baseUrl, { signals: [signal(WS_TENANT), signal(WS_TENANT)] }, wsTokens.write);
  expect(seeded.status, seeded.text).toBe(202);
}, 180_000);

afterAll(async () => {
  await svc?.stop();
});

const httpCheck = (c: HttpCase) => sendHttp(svc.baseUrl, c, httpTokens).then((res) => checkHttp(c, res, secrets));
const wireCheck = (c: WireCase) => sendWire(svc.baseUrl, c, httpTokens).then((res) => checkWire(c, res, secrets));
const wsCheck = (c: WsCase, index: number) =>
  runWs(svc.baseUrl, c, wsTokens, `probe-${index}`, settledFor(c)).then((out) => checkWs(c, out));

/**
 * Sessions that must always run, whatever the seed: subscription ids that are also names of Object.prototype
 * members (a store keyed by plain objects loses them), each on a score subscription that must answer at once.
 */
const WS_EXAMPLES: WsCase[] = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "prototype"].map(
  (id) => ({
    tenant: WS_TENANT,
    protocols: ["graphql-transport-ws"],
    frames: [validInit("read"), scoreSubscribe(id, "next")],
  }),
);

/** How often wrangler dev rebuilt the Worker because a source file changed (requests in flight then fail). */
const reloads = () => svc.output().split("Reloading local server").length - 1;

/** WebSocket cases from the seed until their frames reach `frames`. */
function wsCases(seed: number, frames: number): WsCase[] {
  const sample = fc.sample(wsCaseArb, { seed, numRuns: Math.ceil(frames / 2) + 10 });
  let sum = 0;
  const cut = sample.findIndex((c) => {
    sum += c.frames.length;
    return sum >= frames;
  });
  return sample.slice(0, cut + 1);
}

describe("fuzzing the running service", () => {
  it(
    `answers ${TOTAL} generated hostile requests and frames within the contract (seed ${SEED})`,
    async () => {
      const n = (share: number) => Math.ceil(TOTAL * share);
      const http: Array<Group<HttpCase>> = [
        group("ingest", ingestCaseArb, SEED + 1, n(SHARE.ingest), httpCheck),
        group("headers", headersCaseArb, SEED + 2, n(SHARE.headers), httpCheck),
        group("graphql", graphqlCaseArb, SEED + 3, n(SHARE.graphql), httpCheck),
        group("paths", pathsCaseArb, SEED + 4, n(SHARE.paths), httpCheck),
      ];
      const wire = group("wire", wireCaseArb, SEED + 5, n(SHARE.wire), wireCheck);
      const examples: Group<WsCase> = { name: "ws-examples", arb: null, seed: 0, cases: WS_EXAMPLES, check: wsCheck };
      const ws: Group<WsCase> = {
        name: "ws",
        arb: wsCaseArb,
        seed: SEED + 6,
        cases: wsCases(SEED + 6, n(SHARE.ws)),
        check: wsCheck,
      };

      const failures: Failure[] = [];
      const reloadsBefore = reloads();
      const timings: Record<string, string> = {};
      const timed = async (name: string, run: () => Promise<void>) => {
        const t0 = performance.now();
        const cpu0 = serviceCpuSeconds(svc.stateDir);
        await run();
        const cpu1 = serviceCpuSeconds(svc.stateDir);
        const cpu = cpu0 === null || cpu1 === null ? "" : `, service CPU ${(cpu1 - cpu0).toFixed(1)} s`;
        timings[name] = `${((performance.now() - t0) / 1000).toFixed(1)} s${cpu}`;
      };
      for (const g of http) await timed(g.name, () => runGroup(g, WIDTH, failures));
      await timed("wire", () => runGroup(wire, WIDTH, failures));
      await timed("ws", () => runGroup(ws, WIDTH, failures));
      await runGroup(examples, WIDTH, failures);

      const wsFrames = ws.cases.reduce((s, c) => s + c.frames.length, 0);
      const counts = Object.fromEntries([...http, wire].map((g) => [g.name, g.cases.length]));
      console.log(
        `fuzz seed ${SEED}: ${JSON.stringify(counts)}, ws ${ws.cases.length} sessions / ${wsFrames} frames;`,
        `timings ${JSON.stringify(timings)}; failures ${failures.length}; slowest cases:`,
        slowest.map((x) => `\n  ${x.ms} ms ${x.what}`).join(""),
        `\n  latency p50/p90/p99 ms: ${JSON.stringify(latencies())}`,
      );
      expect(Object.values(counts).reduce((a, b) => a + b, 0) + wsFrames).toBeGreaterThanOrEqual(TOTAL);

      if (failures.length > 0) {
        // One example per group and kind of breach (quoted values left out), then each group's first case
        // replayed and shrunk.
        const kinds = new Map<string, { first: Failure; count: number }>();
        for (const f of failures) {
          const key = `${f.group}: ${f.reason.replace(/"[^"]*"/g, '"…"').slice(0, 80)}`;
          const k = kinds.get(key);
          if (k) k.count++;
          else kinds.set(key, { first: f, count: 1 });
        }
        const report = [`${failures.length} case(s) broke the contract (FUZZ_SEED=${SEED} FUZZ_RUNS=${TOTAL}):`];
        const reloaded = reloads() - reloadsBefore;
        if (reloaded > 0) {
          report.push(`(wrangler reloaded the Worker ${reloaded}× during the run: source files changed under it)`);
        }
        for (const [key, { first, count }] of kinds) {
          report.push(`- ${count}× ${key}\n  e.g. #${first.index}: ${first.reason}\n  ${shorten(first.json)}`);
        }
        const firstOfGroup = new Map<string, Failure>();
        for (const f of failures) if (!firstOfGroup.has(f.group)) firstOfGroup.set(f.group, f);
        for (const [name, f] of firstOfGroup) {
          const g = [...http, wire, ws, examples].find((x) => x.name === name) as Group<unknown>;
          report.push(`minimized ${name} (seed ${g.seed}, path ${f.index}): ${await minimize(g, f.index)}`);
        }
        expect.fail(report.join("\n"));
      }
    },
    Math.max(240_000, TOTAL * 40),
  );

  it("still ingests, scores exactly and streams after the fuzzing", async () => {
    const tenantId = newTenant("fz");
    const token = await mintToken(tenantId, "coherence:read coherence:write");
    const sent = [
      signal(tenantId, { value: 0.2, weight: 2 }),
      signal(tenantId, { value: 0.9 }),
      signal(tenantId, { value: 0.55 }),
    ];
    const res = await ingest(svc.baseUrl, { signals: sent }, token);
    expect(res.status, res.text).toBe(202);
    expect(res.body).toMatchObject({ accepted: 3, duplicates: 0 });

    const expected = computeScore([{ v: 0.2, w: 2 }, { v: 0.9 }, { v: 0.55 }]);
    const view = await readScore(svc.baseUrl, tenantId, token);
    expect(view).toMatchObject({ tenantId, score: expected, status: band(expected), signalCount: 3 });

    const raw = await RawSocket.open(realtimeUrl(svc.baseUrl, tenantId), token);
    try {
      await raw.init(token);
      raw.subscribe("events", { query: "", id: "pq_coherence_events_v1", variables: { tenantId } });
      const live = signal(tenantId);
      expect((await ingest(svc.baseUrl, live, token)).status).toBe(202);
      const event = await raw.next((f) => f.id === "events" && f.type === "next", 10_000, "the live event");
      expect(event.payload).toMatchObject({ data: { coherenceEvents: { id: live.signalId } } });
    } finally {
      raw.close();
    }
  });

  it("never logs a token, a JWT, a private key or a configured secret", () => {
    const log = svc.output();
    // The request log really was captured: one JSON line per request the fuzzing sent, give or take.
    const jsonLines = log.split("\n").filter((line) => line.startsWith('{"ts":')).length;
    expect(jsonLines).toBeGreaterThan(TOTAL / 4);
    for (const s of secrets.filter((x) => !SINK_HOSTS.includes(x))) {
      expect(log.includes(s), `the log contains a secret (${s.slice(0, 6)}…)`).toBe(false);
    }
    expect(log.includes(DATABASE_URL), "the log contains DATABASE_URL").toBe(false);
    expect(log).not.toMatch(/Bearer\s+[A-Za-z0-9._~+/=-]{16,}/);
    expect(log).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/);
    expect(log).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  });
});
