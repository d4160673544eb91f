// @coherence/client against the real service (`npm start`): single-signal publishes leave as batches and the score
// read back through the client is what was published; a batch whose answer is lost is retried under its
// Idempotency-Key and counted once; a refused signal is refused alone; usage reads through the persisted operation;
// a subscription that loses its connection resumes after its last cursor with no gap and no duplicate.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { CoherenceError, createCoherenceClient, type PublishResult, type Signal } from "@coherence/client";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { mintToken } from "../support/harness";
import { serviceForFile } from "../support/vitest-hooks";
import { isoAt, newTenant } from "./helpers";
import { Inbox } from "./ws-wait";

const svc = serviceForFile();
const SCOPES = "coherence:read coherence:write finops:read";

/** `n` signals of `tenantId` with varied values and weights and explicit ids, ts a minute ago. */
function signalsFor(tenantId: string, n: number, prefix: string): Signal[] {
  return Array.from({ length: n }, (_, i) => ({
    tenantId,
    signalId: `${prefix}-${i}`,
    type: i % 2 === 0 ? "latency" : "errors",
    source: `probe-${i % 3}`,
    value: ((i * 37) % 101) / 100,
    weight: 1 + (i % 4),
    ts: isoAt(-60_000),
  }));
}

/** The weighted mean the contract defines (§4), computed here independently of the service. */
function weightedMean(signals: Signal[]): number {
  let sum = 0;
  let weight = 0;
  for (const s of signals) {
    sum += s.value * (s.weight ?? 1);
    weight += s.weight ?? 1;
  }
  return Math.round((sum / weight) * 10_000) / 10_000;
}

describe("@coherence/client against npm start", () => {
  it("publishes single signals as batches and reads the score back", async () => {
    const tenantId = newTenant("client");
    const client = createCoherenceClient({ url: svc.baseUrl, token: await mintToken(tenantId, SCOPES) });
    const signals = signalsFor(tenantId, 300, "one");
    const results = await Promise.all(signals.map((s) => client.publish(s)));
    expect(results.map((r) => r.status)).toEqual(signals.map(() => "accepted"));
    expect(results.map((r) => r.signalId)).toEqual(signals.map((s) => s.signalId));
    // 300 publishes, far fewer requests: they were batched.
    expect(client.stats().requests).toBeLessThanOrEqual(10);
    const score = await client.score(tenantId);
    expect(score).toMatchObject({ tenantId, signalCount: 300, score: weightedMean(signals) });
    // Published again: the service has them all already.
    const again = await client.publish(signals.slice(0, 10));
    expect(again.map((r) => r.status)).toEqual(signals.slice(0, 10).map(() => "duplicate"));
    await client.close();
  });

  it("retries a batch whose answer was lost under the same Idempotency-Key, and the service counts it once", async () => {
    const tenantId = newTenant("client-lost");
    const sent: Array<{ key: string | null; body: string }> = [];
    let lose = true;
    // The first ingest request reaches the service and is applied; its answer is thrown away on the way back.
    const lossy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (String(input).endsWith("/v1/coherence/signals")) {
        sent.push({ key: new Headers(init?.headers).get("idempotency-key"), body: String(init?.body) });
        if (lose) {
          lose = false;
          await res.text();
          throw new TypeError("fetch failed (connection reset after the request was sent)");
        }
      }
      return res;
    };
    const client = createCoherenceClient({
      url: svc.baseUrl,
      token: await mintToken(tenantId, SCOPES),
      fetch: lossy,
      retry: { baseDelayMs: 50 },
    });
    const signals = signalsFor(tenantId, 20, "lost").map(({ ts: _ts, ...s }) => s);
    const results: PublishResult[] = await client.publish(signals);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.key).toBe(sent[0]!.key);
    expect(sent[1]!.body).toBe(sent[0]!.body);
    expect(results.every((r) => r.status === "accepted" && r.replayed)).toBe(true);
    expect(new Set(results.map((r) => r.provenanceId)).size).toBe(1);
    const score = await client.score(tenantId);
    expect(score.signalCount).toBe(20);
    expect(score.score).toBe(weightedMean(signals));
    await client.close();
  });

  it("refuses the invalid signal of a batch alone and stores the rest", async () => {
    const tenantId = newTenant("client-partial");
    const client = createCoherenceClient({ url: svc.baseUrl, token: await mintToken(tenantId, SCOPES) });
    const [a, b, c] = signalsFor(tenantId, 3, "part");
    const outcomes = await Promise.allSettled([a!, { ...b!, value: 2 }, c!].map((s) => client.publish(s)));
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const refused = (outcomes[1] as PromiseRejectedResult).reason;
    expect(refused).toBeInstanceOf(CoherenceError);
    expect(refused).toMatchObject({ code: "VALIDATION_FAILED", status: 400, details: [{ index: 0, path: "value" }] });
    expect(await client.score(tenantId)).toMatchObject({ signalCount: 2, score: weightedMean([a!, c!]) });
    await client.close();
  });

  it("refuses a token for another tenant with FORBIDDEN, without retrying", async () => {
    const client = createCoherenceClient({ url: svc.baseUrl, token: await mintToken(newTenant("other"), SCOPES) });
    const err = await client.publish(signalsFor(newTenant("client-x"), 1, "x")[0]!).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "FORBIDDEN", status: 403, attempts: 1 });
    expect(client.stats().requests).toBe(1);
  });

  it("reads usage through the persisted operation", async () => {
    const tenantId = newTenant("client-usage");
    const client = createCoherenceClient({ url: svc.baseUrl, token: await mintToken(tenantId, SCOPES) });
    await client.publish(signalsFor(tenantId, 25, "u"));
    const today = new Date().toISOString().slice(0, 10);
    const usage = await client.usage(tenantId, { from: today, to: today });
    expect(usage.tenantId).toBe(tenantId);
    expect(usage.days).toHaveLength(1);
    expect(usage.days[0]).toMatchObject({ date: today, signals: 25, rejected: 0 });
    expect(usage.days[0]!.requests.ingest).toBe(client.stats().requests);
    await client.close();
  });

  it("resumes a subscription after a dropped connection from its last cursor: no gap, no duplicate", async () => {
    const tenantId = newTenant("client-sub");
    const token = await mintToken(tenantId, SCOPES);
    // Sockets the test can cut, and ticket requests it can hold (so signals are accepted while no socket is open).
    const sockets: WebSocket[] = [];
    class CuttableWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols);
        sockets.push(this);
      }
    }
    let hold: Promise<void> | null = null;
    let tickets = 0;
    const gated: typeof fetch = async (input, init) => {
      if (String(input).endsWith("/realtime-tickets")) {
        tickets++;
        if (hold) await hold;
      }
      return fetch(input, init);
    };
    const client = createCoherenceClient({
      url: svc.baseUrl,
      token,
      fetch: gated,
      retry: { baseDelayMs: 50, maxDelayMs: 200 },
      realtime: { webSocketImpl: CuttableWebSocket },
    });
    const events = new Inbox<string>();
    const connected = new Inbox<number>();
    const reconnects: string[] = [];
    const sub = client.subscribe(tenantId, {
      event: (e) => events.push(e.id),
      // The first score means the subscriptions of this connection are in place (they are handled in order).
      score: () => connected.push(sockets.length),
      reconnecting: (info) => reconnects.push(info.reason),
      error: (err) => events.end(err),
    });
    await connected.until((c) => c.length >= 1, 15_000, "the first score");
    const first = signalsFor(tenantId, 5, "live");
    await client.publish(first);
    await events.until((e) => e.length >= 5, 15_000, "the first 5 events");
    const cursorBefore = sub.cursor;
    expect(cursorBefore).toBeDefined();

    let release: () => void = () => {};
    hold = new Promise((ok) => {
      release = ok;
    });
    sockets.at(-1)!.terminate();
    const second = signalsFor(tenantId, 7, "gap");
    await client.publish(second);
    release();
    hold = null;
    await events.until((e) => e.length >= 12, 20_000, "the 7 signals accepted while disconnected");
    // A little longer: a duplicate would arrive right behind.
    await new Promise((ok) => setTimeout(ok, 300));
    expect(events.items).toEqual([...first, ...second].map((s) => s.signalId));
    expect(reconnects.length).toBeGreaterThanOrEqual(1);
    expect(tickets).toBeGreaterThanOrEqual(2);
    expect(sub.cursor).not.toBe(cursorBefore);
    sub.unsubscribe();
    await client.close();
  });

  it("runs the README's producer example: from a token to signals flowing and the score read back", async () => {
    const tenantId = newTenant("example");
    const root = join(import.meta.dirname, "..", "..");
    const { stdout } = await promisify(execFile)(
      join(root, "node_modules", ".bin", "node"),
      [
        join(root, "packages", "client", "examples", "producer.ts"),
        "--tenant",
        tenantId,
        "--count",
        "1500",
        "--url",
        svc.baseUrl,
      ],
      {
        env: { ...process.env, COHERENCE_TOKEN: await mintToken(tenantId, "coherence:read coherence:write") },
        timeout: 60_000,
      },
    );
    const line = /^published 1500 signals \(0 duplicates, 0 refused\) in [\d.]+ s: (\d+) requests, 0 retries$/m.exec(
      stdout,
    );
    expect(line, stdout).not.toBeNull();
    // 1500 publishes, a handful of requests (1000 per full batch; a slow loop may let a partial one leave early).
    expect(Number(line![1])).toBeLessThanOrEqual(5);
    const view = await createCoherenceClient({ url: svc.baseUrl, token: await mintToken(tenantId, SCOPES) }).score(
      tenantId,
    );
    expect(view.signalCount).toBe(1500);
    expect(stdout).toContain(`${tenantId}: score ${view.score} ${view.status} over 1500 signals`);
  });
});
