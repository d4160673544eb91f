import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CoherenceError, createCoherenceClient, type PublishResult } from "../src/index.ts";
import { bodySignals, restError, type Script, scriptedServer, signals } from "./scripted-server.ts";

const URL_ = "http://svc.test";

function client(server: ReturnType<typeof scriptedServer>, extra: Record<string, unknown> = {}) {
  return createCoherenceClient({
    url: URL_,
    token: "t0",
    fetch: server.fetch,
    random: () => 0.5,
    batching: { maxDelayMs: 20, maxBatchSize: 500 },
    retry: { baseDelayMs: 100, maxDelayMs: 2000, maxAttempts: 5 },
    ...extra,
  });
}

/** Settles `p` without throwing, so a test can advance the clock while it is pending. */
function settle<T>(p: Promise<T>): { value?: T; error?: unknown; done: boolean } {
  const s: { value?: T; error?: unknown; done: boolean } = { done: false };
  p.then(
    (v) => Object.assign(s, { value: v, done: true }),
    (e) => Object.assign(s, { error: e, done: true }),
  );
  return s;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("batching", () => {
  it("sends nothing before maxDelayMs, then the queued signals as one request", async () => {
    const server = scriptedServer();
    const c = client(server);
    const r = settle(c.publish(signals(3)));
    await vi.advanceTimersByTimeAsync(19);
    expect(server.requests).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(r.done).toBe(true));
    expect(server.requests).toHaveLength(1);
    expect(bodySignals(server.requests[0]!).map((s) => s.signalId)).toEqual(["s-0", "s-1", "s-2"]);
    expect((r.value as PublishResult[]).map((x) => x.status)).toEqual(["accepted", "accepted", "accepted"]);
  });

  it("sends a full batch at once and splits by maxBatchSize, one Idempotency-Key per batch", async () => {
    const server = scriptedServer();
    const c = client(server);
    const r = settle(c.publish(signals(1200)));
    await vi.advanceTimersByTimeAsync(0);
    // Two full batches leave at once; the remaining 200 wait for the delay.
    expect(server.requests.map((q) => bodySignals(q).length)).toEqual([500, 500]);
    await vi.advanceTimersByTimeAsync(20);
    await vi.waitFor(() => expect(r.done).toBe(true));
    expect(server.requests.map((q) => bodySignals(q).length)).toEqual([500, 500, 200]);
    const keys = server.requests.map((q) => q.headers.get("idempotency-key"));
    expect(new Set(keys).size).toBe(3);
    expect((r.value as PublishResult[]).map((x) => x.signalId)).toEqual(signals(1200).map((s) => s.signalId));
    expect(server.model.stored.size).toBe(1200);
  });

  it("batches each tenant apart (a token covers one tenant) and stamps ts and a unique id on signals without ts", async () => {
    const server = scriptedServer();
    const c = client(server);
    const a = { tenantId: "a", type: "t", source: "s", value: 1 };
    const b = { tenantId: "b", type: "t", source: "s", value: 0 };
    const r = settle(Promise.all([c.publish(a), c.publish(b), c.publish(a)]));
    await vi.advanceTimersByTimeAsync(20);
    await vi.waitFor(() => expect(r.done).toBe(true));
    const tenants = server.requests.map((q) => [...new Set(bodySignals(q).map((s) => s.tenantId))]);
    expect(tenants.sort()).toEqual([["a"], ["b"]]);
    const sent = server.requests.flatMap(bodySignals);
    for (const s of sent) expect(typeof s.ts).toBe("string");
    // Two alike signals in one millisecond stay two signals.
    expect(new Set(sent.map((s) => s.signalId)).size).toBe(3);
    expect(server.model.stored.size).toBe(3);
  });

  it("keeps each request under maxBatchBytes counting UTF-8 bytes, not characters", async () => {
    const server = scriptedServer();
    const c = client(server, { batching: { maxDelayMs: 20, maxBatchBytes: 1024 } });
    // ~330 characters but ~530 bytes each: three fit by characters, only one per request by bytes.
    const wide = signals(3).map((s) => ({ ...s, source: "é".repeat(200) }));
    const r = settle(c.publish(wide));
    await vi.advanceTimersByTimeAsync(100);
    expect(r.done).toBe(true);
    const sizes = server.requests.map((q) => new TextEncoder().encode(q.body).length);
    expect(
      sizes.every((n) => n <= 1024),
      String(sizes),
    ).toBe(true);
    expect(server.requests.map((q) => bodySignals(q).length)).toEqual([1, 1, 1]);
  });

  it("sends a signal that carries its ts as it is (the service derives its id from its content)", async () => {
    const server = scriptedServer();
    const c = client(server);
    const reading = { tenantId: "a", type: "t", source: "s", value: 0.3, ts: "2026-12-04T00:00:00.000Z" };
    const r = settle(c.publish([reading, reading]));
    await vi.advanceTimersByTimeAsync(20);
    await vi.waitFor(() => expect(r.done).toBe(true));
    expect(server.requests[0]!.body).toBe(`{"signals":[${JSON.stringify(reading)},${JSON.stringify(reading)}]}`);
    expect((r.value as PublishResult[]).map((x) => x.status)).toEqual(["accepted", "duplicate"]);
  });

  it("flush() sends at once; close() settles everything and refuses later publishes", async () => {
    const server = scriptedServer();
    const c = client(server, { batching: { maxDelayMs: 60_000 } });
    const r = settle(c.publish(signals(2)));
    await c.flush();
    expect(server.requests).toHaveLength(1);
    expect(c.stats().unsettled).toBe(0);
    await vi.waitFor(() => expect(r.done).toBe(true));
    const r2 = settle(c.publish(signals(1, "acme", 5)));
    await c.close();
    expect(server.requests).toHaveLength(2);
    await vi.waitFor(() => expect(r2.done).toBe(true));
    await expect(c.publish(signals(1)[0]!)).rejects.toMatchObject({ code: "CLIENT_CLOSED" });
  });
});

describe("retries", () => {
  it("honours Retry-After on 429: the retry leaves no earlier, with the same key and the same bytes", async () => {
    const server = scriptedServer((r) =>
      r.n === 0
        ? { kind: "answer", status: 429, body: restError("RATE_LIMITED"), headers: { "retry-after": "3" } }
        : { kind: "apply" },
    );
    const c = client(server);
    const r = settle(c.publish(signals(2)));
    await vi.advanceTimersByTimeAsync(20);
    expect(server.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2999);
    expect(server.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(r.done).toBe(true));
    const [first, second] = server.requests;
    expect(second!.at - first!.at).toBe(3000);
    expect(second!.headers.get("idempotency-key")).toBe(first!.headers.get("idempotency-key"));
    expect(second!.body).toBe(first!.body);
    expect(c.stats()).toMatchObject({ requests: 2, retries: 1, unsettled: 0 });
  });

  it("backs off exponentially with jitter on 503 and gives up after maxAttempts with the service's code", async () => {
    const server = scriptedServer(() => ({ kind: "answer", status: 503, body: restError("SERVICE_UNAVAILABLE") }));
    const c = client(server);
    const r = settle(c.publish(signals(1)[0]!));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(r.done).toBe(true);
    expect(r.error).toBeInstanceOf(CoherenceError);
    expect(r.error).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: 503, attempts: 5, retryable: true });
    // random() = 0.5 → half of base·2^n, capped at 2000: 50, 100, 200, 400.
    const gaps = server.requests.slice(1).map((q, i) => q.at - server.requests[i]!.at);
    expect(gaps).toEqual([50, 100, 200, 400]);
  });

  it("never retries a 4xx other than 408/429: 403 refuses the batch after one request", async () => {
    const server = scriptedServer(() => ({ kind: "answer", status: 403, body: restError("FORBIDDEN") }));
    const c = client(server);
    const r = settle(c.publish(signals(2)));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(r.error).toMatchObject({ code: "FORBIDDEN", status: 403, attempts: 1 });
    expect(server.requests).toHaveLength(1);
  });

  it("retries 408 and dropped connections, then succeeds", async () => {
    const steps: Script[] = [
      { kind: "answer", status: 408, body: restError("REQUEST_TIMEOUT") },
      { kind: "drop" },
      { kind: "apply" },
    ];
    const server = scriptedServer((r) => steps[r.n] ?? { kind: "apply" });
    const c = client(server);
    const r = settle(c.publish(signals(1)[0]!));
    await vi.advanceTimersByTimeAsync(5000);
    expect(r.value).toMatchObject({ status: "accepted", replayed: false });
    expect(server.requests).toHaveLength(3);
  });

  it("counts a batch once when the answer was lost: the retry is replayed by the service", async () => {
    const server = scriptedServer((r) => (r.n === 0 ? { kind: "lose-answer" } : { kind: "apply" }));
    const c = client(server);
    const r = settle(c.publish(signals(3)));
    await vi.advanceTimersByTimeAsync(5000);
    expect(server.requests).toHaveLength(2);
    expect(server.model.replays).toBe(1);
    expect([...server.model.applied.values()]).toEqual([1, 1, 1]);
    expect((r.value as PublishResult[]).map((x) => [x.status, x.replayed, x.provenanceId])).toEqual([
      ["accepted", true, "prov-0"],
      ["accepted", true, "prov-0"],
      ["accepted", true, "prov-0"],
    ]);
  });

  it("abandons an attempt that gets no answer within timeoutMs and retries it", async () => {
    const server = scriptedServer((r) => (r.n === 0 ? { kind: "hang" } : { kind: "apply" }));
    const c = client(server, { timeoutMs: 1000 });
    const r = settle(c.publish(signals(1)[0]!));
    await vi.advanceTimersByTimeAsync(1019);
    expect(server.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(r.value).toMatchObject({ status: "accepted" });
    expect(server.requests).toHaveLength(2);
  });

  it("asks getToken() for a fresh token once after a 401", async () => {
    const server = scriptedServer((r) =>
      r.headers.get("authorization") === "Bearer old"
        ? { kind: "answer", status: 401, body: restError("UNAUTHENTICATED") }
        : { kind: "apply" },
    );
    const calls: boolean[] = [];
    const c = client(server, {
      token: ({ refresh }: { refresh: boolean }) => {
        calls.push(refresh);
        return refresh ? "new" : "old";
      },
    });
    const r = settle(c.publish(signals(1)[0]!));
    await vi.advanceTimersByTimeAsync(100);
    expect(r.value).toMatchObject({ status: "accepted" });
    expect(calls).toEqual([false, true]);
  });

  it("gives up on 401 with a static token at once", async () => {
    const server = scriptedServer(() => ({ kind: "answer", status: 401, body: restError("UNAUTHENTICATED") }));
    const c = client(server);
    const r = settle(c.publish(signals(1)[0]!));
    await vi.advanceTimersByTimeAsync(100);
    expect(r.error).toMatchObject({ code: "UNAUTHENTICATED", status: 401 });
    expect(server.requests).toHaveLength(1);
  });
});

describe("partial batches", () => {
  it("refuses only the signals a 400 names and sends the rest again as a new batch", async () => {
    const server = scriptedServer((r) =>
      r.n === 0
        ? {
            kind: "answer",
            status: 400,
            body: restError("VALIDATION_FAILED", [
              { index: 1, path: "value", message: "Too big: expected number to be <=1" },
            ]),
          }
        : { kind: "apply" },
    );
    const c = client(server);
    const batch = signals(3);
    const results = batch.map((s) => settle(c.publish(s)));
    await vi.advanceTimersByTimeAsync(100);
    expect(results[1]!.error).toMatchObject({ code: "VALIDATION_FAILED", status: 400 });
    expect((results[1]!.error as CoherenceError).details).toEqual([
      { index: 0, path: "value", message: "Too big: expected number to be <=1" },
    ]);
    expect(results[0]!.value).toMatchObject({ status: "accepted" });
    expect(results[2]!.value).toMatchObject({ status: "accepted" });
    expect(bodySignals(server.requests[1]!).map((s) => s.signalId)).toEqual(["s-0", "s-2"]);
    expect(server.requests[1]!.headers.get("idempotency-key")).not.toBe(
      server.requests[0]!.headers.get("idempotency-key"),
    );
  });

  it("halves a batch refused as a whole (413) until it fits", async () => {
    const server = scriptedServer((r) =>
      bodySignals(r).length > 2
        ? { kind: "answer", status: 413, body: restError("PAYLOAD_TOO_LARGE") }
        : { kind: "apply" },
    );
    const c = client(server);
    const r = settle(c.publish(signals(5)));
    await vi.advanceTimersByTimeAsync(100);
    expect((r.value as PublishResult[]).every((x) => x.status === "accepted")).toBe(true);
    expect(server.model.stored.size).toBe(5);
    expect(server.requests.filter((q) => q.headers.get("idempotency-key") !== null).length).toBeGreaterThan(3);
  });
});

describe("backpressure", () => {
  it("holds publish() while maxQueued signals are unsettled, and lets it in when the service answers", async () => {
    let open = false;
    const server = scriptedServer(() =>
      open ? { kind: "apply" } : { kind: "answer", status: 503, body: restError("SERVICE_UNAVAILABLE") },
    );
    const c = client(server, {
      batching: { maxQueued: 3, maxDelayMs: 5 },
      retry: { maxAttempts: 100, baseDelayMs: 10, maxDelayMs: 50 },
    });
    const first = [0, 1, 2].map((i) => settle(c.publish(signals(1, "acme", i)[0]!)));
    const fourth = settle(c.publish(signals(1, "acme", 3)[0]!));
    await vi.advanceTimersByTimeAsync(1000);
    expect(c.stats().unsettled).toBe(3);
    // Only the first three ever reach the wire while the service is down.
    const seen = new Set(server.requests.flatMap((q) => bodySignals(q).map((s) => s.signalId)));
    expect([...seen].sort()).toEqual(["s-0", "s-1", "s-2"]);
    expect(fourth.done).toBe(false);
    open = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(first.every((r) => r.done && r.value)).toBe(true);
    expect(fourth.value).toMatchObject({ signalId: "s-3", status: "accepted" });
    expect(c.stats().unsettled).toBe(0);
  });

  it("room() holds a producer that does not await its publishes while the queue is full", async () => {
    let open = false;
    const server = scriptedServer(() =>
      open ? { kind: "apply" } : { kind: "answer", status: 503, body: restError("SERVICE_UNAVAILABLE") },
    );
    const c = client(server, {
      batching: { maxQueued: 5, maxDelayMs: 5 },
      retry: { maxAttempts: 100, baseDelayMs: 10, maxDelayMs: 50 },
    });
    let published = 0;
    const producer = (async () => {
      for (let i = 0; i < 12; i++) {
        await c.room();
        void c.publish(signals(1, "acme", i)[0]!);
        published++;
      }
    })();
    await vi.advanceTimersByTimeAsync(1000);
    expect(published).toBe(5);
    open = true;
    await vi.advanceTimersByTimeAsync(1000);
    await producer;
    await c.flush();
    expect(published).toBe(12);
    expect(server.model.stored.size).toBe(12);
  });

  it("refuses with QUEUE_FULL instead of waiting when overflow is reject", async () => {
    const server = scriptedServer(() => ({ kind: "hang" }));
    const c = client(server, { batching: { maxQueued: 2, overflow: "reject" } });
    settle(c.publish(signals(2)));
    await expect(c.publish(signals(1, "acme", 9)[0]!)).rejects.toMatchObject({ code: "QUEUE_FULL" });
  });
});

describe("observing and aborting", () => {
  it("reports every request to onRequest: outcome, status, attempt, code and the wait before a retry", async () => {
    const server = scriptedServer((r) =>
      r.n === 0
        ? { kind: "answer", status: 429, body: restError("RATE_LIMITED"), headers: { "retry-after": "1" } }
        : { kind: "apply" },
    );
    const seen: unknown[] = [];
    const c = client(server, { batching: { maxDelayMs: 20, onRequest: (i: unknown) => seen.push(i) } });
    const r = settle(c.publish(signals(2)));
    await vi.advanceTimersByTimeAsync(1100);
    expect(r.done).toBe(true);
    expect(seen).toMatchObject([
      {
        tenantId: "acme",
        signals: 2,
        attempt: 1,
        status: 429,
        outcome: "retry",
        code: "RATE_LIMITED",
        retryInMs: 1000,
      },
      {
        tenantId: "acme",
        signals: 2,
        attempt: 2,
        status: 202,
        outcome: "accepted",
        code: null,
        provenanceId: "prov-1",
      },
    ]);
  });

  it("abort() rejects queued and retrying signals with ABORTED and sends nothing more", async () => {
    const server = scriptedServer(() => ({ kind: "answer", status: 503, body: restError("SERVICE_UNAVAILABLE") }));
    const c = client(server, {
      retry: { maxAttempts: 1000, baseDelayMs: 100, maxDelayMs: 100 },
      batching: { maxBatchSize: 2, maxDelayMs: 1000 },
    });
    const retrying = settle(c.publish(signals(2)));
    const queued = settle(c.publish(signals(1, "acme", 7)[0]!));
    await vi.advanceTimersByTimeAsync(500);
    const sent = server.requests.length;
    expect(sent).toBeGreaterThan(1);
    c.abort();
    await vi.advanceTimersByTimeAsync(5000);
    expect(retrying.error).toMatchObject({ code: "ABORTED" });
    expect(queued.error).toMatchObject({ code: "ABORTED" });
    expect(server.requests.length).toBe(sent);
    await expect(c.publish(signals(1)[0]!)).rejects.toMatchObject({ code: "CLIENT_CLOSED" });
  });
});
