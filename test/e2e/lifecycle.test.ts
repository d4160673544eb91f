// Contract §0, §3, §8 across process lifecycles of `npm start`: nothing answered 202 is lost when the
// service stops mid-burst, FEATURE_COHERENCE=false answers 503 and keeps data, and the JSON request logs.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { computeScore } from "../../src/domain/score";
import { type RunningService, tempStateDir } from "../support/harness";
import { servicesForTests } from "../support/vitest-hooks";
import {
  expectGraphqlError,
  expectRestError,
  graphql,
  type HttpResult,
  type IngestOk,
  ingest,
  isoAt,
  readScore,
  send,
  signal,
  tenantWithToken,
} from "./helpers";

const start = servicesForTests();

/** Every token and provenance seen in this file, to check that logs never contain a token. */
const tokensUsed: string[] = [];
/** Outputs of every service started in this file. */
const outputs: Array<() => string> = [];

describe("restart (§0: state persists under the state dir; §3: an accepted signal is never lost)", () => {
  it("keeps every signal answered 202 when the service is stopped in the middle of a concurrent burst", async () => {
    const stateDir = tempStateDir();
    const { tenantId, token } = await tenantWithToken();
    tokensUsed.push(token);
    const ts = isoAt(-60_000);
    const sig = (i: number) => signal(tenantId, { signalId: `r-${i}`, ts, value: (i % 97) / 96, weight: 1 + (i % 3) });
    const sent: Array<Record<string, unknown>> = [];
    const got202 = new Set<string>();

    // Stopping mid-burst cuts requests off on purpose: wrangler's dev proxy may report such a request as an error
    // line ("Network connection lost") as it goes down. That line, for an ingest request, is what this test causes;
    // any other error line still fails it.
    const first = await start({
      stateDir,
      allowLogLines: [/Error inside ProxyWorker .*POST \S+\/v1\/coherence\/signals .*Network connection lost/],
    });
    outputs.push(first.output);
    // Burst 1: 50 concurrent requests, each one signal with an explicit signalId and ts.
    const burst1 = Array.from({ length: 50 }, (_, i) => sig(i));
    sent.push(...burst1);
    const r1 = await Promise.all(burst1.map((s) => ingest(first.baseUrl, s, token)));
    for (const [i, r] of r1.entries()) {
      expect(r.status, r.text).toBe(202);
      got202.add(burst1[i]?.signalId as string);
    }

    // Burst 2: a stream with 20 requests in flight; the service is stopped once 40 of them got a 202.
    const BURST2_MAX = 1950;
    let next = 50;
    let ok2 = 0;
    let failed2 = 0;
    let stopping: Promise<void> | null = null;
    const worker = async () => {
      for (;;) {
        if (next >= 50 + BURST2_MAX) return;
        const s = sig(next++);
        sent.push(s);
        let res: HttpResult | null = null;
        try {
          res = await ingest(first.baseUrl, s, token);
        } catch {
          res = null; // connection refused or reset: the service is going away
        }
        if (res?.status === 202) {
          got202.add(s.signalId as string);
          ok2++;
          if (ok2 === 40) stopping = first.stop();
        } else {
          failed2++;
          if (stopping) return; // the service is gone; stop issuing requests
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
    await (stopping ?? first.stop());
    // The stop really happened mid-burst: some requests of burst 2 got a 202 and some did not.
    expect(ok2).toBeGreaterThanOrEqual(40);
    expect(failed2).toBeGreaterThan(0);

    const second = await start({ stateDir });
    outputs.push(second.output);
    const before = await readScore(second.baseUrl, tenantId, token);
    // Nothing answered 202 is lost. (Requests cut off without an answer may or may not have been applied.)
    expect(before.signalCount).toBeGreaterThanOrEqual(got202.size);

    // Re-sending everything: each signal that got a 202 is now a duplicate, and the duplicates are exactly
    // the stored signals.
    let duplicates = 0;
    for (let i = 0; i < sent.length; i += 1000) {
      const chunk = sent.slice(i, i + 1000);
      const res = await ingest(second.baseUrl, { signals: chunk }, token);
      expect(res.status, res.text).toBe(202);
      const body = res.body as IngestOk;
      duplicates += body.duplicates;
      for (const [j, outcome] of body.signals.entries()) {
        expect(outcome.signalId).toBe(chunk[j]?.signalId);
        if (got202.has(outcome.signalId)) expect(outcome.status, outcome.signalId).toBe("duplicate");
      }
    }
    expect(duplicates).toBe(before.signalCount);
    const after = await readScore(second.baseUrl, tenantId, token);
    expect(after.signalCount).toBe(sent.length);
    expect(after.score).toBe(computeScore(sent.map((s) => ({ v: s.value as number, w: s.weight as number }))));
    await second.stop();
  });
});

let flagOn: RunningService | null = null;

describe("feature flag FEATURE_COHERENCE (§8)", () => {
  it("answers 503 FEATURE_DISABLED on ingest and /graphql when false, keeps /healthz, and keeps the data", async () => {
    const stateDir = tempStateDir();
    const { tenantId, token } = await tenantWithToken();
    tokensUsed.push(token);
    const signals = [0.2, 0.7, 0.9].map((value) => signal(tenantId, { value }));
    const expected = computeScore(signals.map((s) => ({ v: s.value as number })));

    const on = await start({ stateDir });
    outputs.push(on.output);
    const key = { "idempotency-key": `k-${crypto.randomUUID()}` };
    const first = await ingest(on.baseUrl, { signals }, token, key);
    expect(first.status, first.text).toBe(202);
    expect(await readScore(on.baseUrl, tenantId, token)).toMatchObject({ signalCount: 3, score: expected });
    await on.stop();

    const off = await start({ stateDir, env: { FEATURE_COHERENCE: "false" } });
    outputs.push(off.output);
    const health = await send(`${off.baseUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: "ok" });
    expectRestError(await ingest(off.baseUrl, signal(tenantId), token), 503, "FEATURE_DISABLED", [token]);
    expectGraphqlError(
      await graphql(off.baseUrl, { id: "pq_tenant_coherence_full_v1", variables: { tenantId } }, token),
      503,
      "FEATURE_DISABLED",
      [token],
    );
    expectGraphqlError(
      await graphql(
        off.baseUrl,
        { id: "pq_publish_signal_v1", variables: { input: { tenantId, type: "t", source: "s", value: 0.5 } } },
        token,
      ),
      503,
      "FEATURE_DISABLED",
      [token],
    );
    await off.stop();

    flagOn = await start({ stateDir });
    outputs.push(flagOn.output);
    expect(await readScore(flagOn.baseUrl, tenantId, token)).toMatchObject({ signalCount: 3, score: expected });
    // Idempotency records outlive restarts too (24 h): the same key and body replay the first answer.
    const replay = await ingest(flagOn.baseUrl, { signals }, token, key);
    expect(replay.status, replay.text).toBe(202);
    expect(replay.headers.get("idempotency-replayed")).toBe("true");
    expect(replay.body).toEqual(first.body);
    expect((await readScore(flagOn.baseUrl, tenantId, token)).signalCount).toBe(3);
  });
});

describe("logs (§8)", () => {
  interface LogLine {
    provenance_id?: unknown;
    tenant_id?: unknown;
    op?: unknown;
    latency_ms?: unknown;
    error_code?: unknown;
    request_sha256?: unknown;
    authz?: unknown;
    subject_hash?: unknown;
  }

  function logLines(output: string): LogLine[] {
    const lines: LogLine[] = [];
    for (const raw of output.split("\n")) {
      const line = raw.trim();
      if (!line.startsWith("{")) continue;
      try {
        const parsed = JSON.parse(line) as unknown;
        if (parsed !== null && typeof parsed === "object") lines.push(parsed as LogLine);
      } catch {}
    }
    return lines;
  }

  /** Waits (polling the captured output, not the clock) until a log line matches. */
  async function findLine(svc: RunningService, match: (l: LogLine) => boolean): Promise<LogLine | undefined> {
    for (let i = 0; i < 100; i++) {
      const hit = logLines(svc.output()).find(match);
      if (hit) return hit;
      await new Promise((r) => setImmediate(r));
      await send(`${svc.baseUrl}/healthz`); // more traffic flushes the log stream
    }
    return undefined;
  }

  it("writes one JSON line per request with provenance_id, tenant_id, op, latency_ms, error_code and no token", async () => {
    const svc = flagOn ?? (await start());
    outputs.push(svc.output);
    const { tenantId, token } = await tenantWithToken();
    tokensUsed.push(token);

    const sent = signal(tenantId);
    const okRes = await ingest(svc.baseUrl, sent, token);
    expect(okRes.status, okRes.text).toBe(202);
    const provenanceId = (okRes.body as IngestOk).provenanceId;
    const foreign = await ingest(svc.baseUrl, signal(`${tenantId}-other`), token);
    expect(foreign.status).toBe(403);
    const bad = await ingest(svc.baseUrl, signal(tenantId, { value: 3 }), token);
    expect(bad.status).toBe(400);
    const unauth = await ingest(svc.baseUrl, signal(tenantId), `${token}x`);
    expect(unauth.status).toBe(401);
    const read = await graphql(svc.baseUrl, { id: "pq_tenant_coherence_v1", variables: { tenantId } }, token);
    expect(read.status).toBe(200);

    const accepted = await findLine(svc, (l) => l.provenance_id === provenanceId);
    expect(accepted, "log line for the accepted request").toBeDefined();
    expect(accepted).toMatchObject({ tenant_id: tenantId, op: expect.any(String), error_code: null });
    expect(accepted?.latency_ms).toEqual(expect.any(Number));
    // Repudiation (docs/threat-model.md): the body's hash is logged with its provenance id, and so is the
    // policy's decision.
    expect(accepted?.request_sha256).toBe(createHash("sha256").update(JSON.stringify(sent)).digest("hex"));
    expect(accepted?.authz).toEqual(["ingest:allowed"]);
    // Who sent it, as a keyed pseudonym of the token's sub (src/telemetry/pseudonym.ts), never the sub itself.
    expect(accepted?.subject_hash).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const denied = await findLine(svc, (l) => l.tenant_id === tenantId && l.error_code === "FORBIDDEN");
    expect(denied?.authz).toEqual(["ingest:tenant_mismatch"]);

    const refused = await findLine(svc, (l) => l.tenant_id === tenantId && l.error_code === "VALIDATION_FAILED");
    expect(refused, "log line for the 400").toBeDefined();
    expect(refused).toMatchObject({ op: expect.any(String), latency_ms: expect.any(Number) });
    expect(refused).toHaveProperty("provenance_id");

    const unauthenticated = await findLine(svc, (l) => l.error_code === "UNAUTHENTICATED");
    expect(unauthenticated, "log line for the 401").toBeDefined();

    const lines = logLines(svc.output());
    const requestLines = lines.filter((l) => l.tenant_id === tenantId);
    expect(requestLines.length).toBeGreaterThanOrEqual(3);
    for (const l of requestLines) {
      for (const field of ["provenance_id", "tenant_id", "op", "latency_ms", "error_code"]) {
        expect(l, JSON.stringify(l)).toHaveProperty(field);
      }
      expect(l, JSON.stringify(l)).not.toHaveProperty("subject");
    }
  });

  it("never prints a token, or its signature, in the output of any service started here", () => {
    expect(tokensUsed.length).toBeGreaterThan(0);
    expect(outputs.length).toBeGreaterThan(0);
    for (const output of outputs) {
      const text = output();
      for (const token of tokensUsed) {
        expect(text.includes(token), "output contains a token").toBe(false);
        const signature = token.split(".")[2] ?? token;
        expect(text.includes(signature), "output contains a token signature").toBe(false);
      }
      expect(text).not.toMatch(/Bearer\s+ey/);
    }
  });
});
