// forwardBatch against a scripted service (a fake behind the ForwardPort): which items end where, and how long it
// waits between attempts.
import { describe, expect, it } from "vitest";
import { type ForwardPort, forwardBatch } from "../src/forwarder.ts";
import type { IngestAnswer } from "../src/ingest-answer.ts";
import type { Rejection } from "../src/message.ts";

interface It {
  json: string;
  bytes: number;
  n: number;
}
const items = (n: number): It[] => Array.from({ length: n }, (_, i) => ({ json: `{"n":${i}}`, bytes: 7, n: i }));
const ok = (count: number): IngestAnswer => ({
  status: 202,
  retryAfter: null,
  text: JSON.stringify({
    accepted: count,
    duplicates: 0,
    provenanceId: "p",
    signals: Array.from({ length: count }, (_, i) => ({ signalId: String(i), status: "accepted" })),
  }),
});
const err = (status: number, code: string, details: unknown[] = [], retryAfter: string | null = null) => ({
  status,
  retryAfter,
  text: JSON.stringify({ error: { code, message: code, details } }),
});

function harness(script: (body: string, call: number) => IngestAnswer | Error, token: string | null = "t") {
  const sent: number[][] = [];
  const acked: number[] = [];
  const rejected: Array<{ n: number; rejection: Rejection }> = [];
  const sleeps: number[] = [];
  const port: ForwardPort<It> = {
    send: async (_tenant, _token, body) => {
      const ns = (JSON.parse(body) as { signals: Array<{ n: number }> }).signals.map((s) => s.n);
      sent.push(ns);
      const r = script(body, sent.length);
      if (r instanceof Error) throw r;
      return r;
    },
    token: () => token,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    now: () => 0,
    acknowledged: (its) => acked.push(...its.map((i) => i.n)),
    rejected: (its, rejection) => rejected.push(...its.map((i) => ({ n: i.n, rejection }))),
    answered: () => undefined,
  };
  return { port, sent, acked, rejected, sleeps };
}

const policy = { baseMs: 100, maxMs: 1000 };
const signal = new AbortController().signal;

describe("forwardBatch", () => {
  it("takes refused items out and sends the rest again", async () => {
    const h = harness((body, call) => {
      const count = (JSON.parse(body) as { signals: unknown[] }).signals.length;
      return call === 1 ? err(400, "VALIDATION_FAILED", [{ index: 1, path: "value", message: "too big" }]) : ok(count);
    });
    await forwardBatch("acme", items(4), h.port, policy, signal);
    expect(h.sent).toEqual([
      [0, 1, 2, 3],
      [0, 2, 3],
    ]);
    expect(h.acked).toEqual([0, 2, 3]);
    expect(h.rejected).toEqual([{ n: 1, rejection: { code: "VALIDATION_FAILED", reason: "value: too big" } }]);
  });

  it("halves a batch refused without an index until the culprit is alone", async () => {
    const h = harness((body) => {
      const ns = (JSON.parse(body) as { signals: Array<{ n: number }> }).signals.map((s) => s.n);
      return ns.includes(2) ? err(413, "PAYLOAD_TOO_LARGE") : ok(ns.length);
    });
    await forwardBatch("acme", items(4), h.port, policy, signal);
    expect(h.acked.sort()).toEqual([0, 1, 3]);
    expect(h.rejected.map((r) => [r.n, r.rejection.code])).toEqual([[2, "PAYLOAD_TOO_LARGE"]]);
  });

  it("waits what Retry-After says on 429, backs off on 5xx and network errors, and never drops", async () => {
    const h = harness((body, call) => {
      if (call === 1) return err(429, "RATE_LIMITED", [], "2");
      if (call === 2) return err(503, "FEATURE_DISABLED");
      if (call === 3) return new Error("ECONNREFUSED");
      return ok((JSON.parse(body) as { signals: unknown[] }).signals.length);
    });
    await forwardBatch("acme", items(3), h.port, policy, signal);
    expect(h.sleeps[0]).toBe(1000); // Retry-After 2 s, capped at the 1 s maximum
    expect(h.sleeps[1]).toBeGreaterThanOrEqual(100); // second retry: 200 ms with jitter
    expect(h.sleeps[1]).toBeLessThanOrEqual(200);
    expect(h.sleeps[2]).toBeGreaterThanOrEqual(200);
    expect(h.sleeps[2]).toBeLessThanOrEqual(400);
    expect(h.acked).toEqual([0, 1, 2]);
    expect(h.rejected).toEqual([]);
  });

  it("dead-letters everything of a tenant it has no token for, without a request", async () => {
    const h = harness(() => ok(0), null);
    await forwardBatch("other", items(2), h.port, policy, signal);
    expect(h.sent).toEqual([]);
    expect(h.rejected.map((r) => r.rejection.code)).toEqual(["FORBIDDEN", "FORBIDDEN"]);
  });

  it("stops retrying when shutdown aborts, leaving the items unacknowledged", async () => {
    const abort = new AbortController();
    const h = harness(() => err(500, "INTERNAL"));
    h.port.sleep = async () => {
      abort.abort(new Error("shutdown"));
    };
    await expect(forwardBatch("acme", items(2), h.port, policy, abort.signal)).rejects.toThrow("shutdown");
    expect(h.acked).toEqual([]);
    expect(h.rejected).toEqual([]);
  });
});
