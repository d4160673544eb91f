import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { outboxBackoffMs } from "../../durable-objects/sink-outbox";
import type { TenantObject } from "../../durable-objects/tenant";
import { RECORD_TTL_MS } from "../../durable-objects/tenant-store";
import { WINDOW_MS } from "../../src/domain/window";
import { expandSignals, type SinkMessage, sinkMessageSchema } from "../../src/queues/messages";
import { command, signal } from "./helpers";

// The object's outbox to the sink queue, inside workerd with real SQLite: a queue that fails on demand stands in
// for the binding, and the clock is injected. Its "now" lies a month ahead of the machine's, so every alarm it
// arms is in the runtime's future and runs only when a test runs it (runDurableObjectAlarm).

const MONTH_MS = 30 * 86_400_000;

/** A sink queue that refuses every send while `down` and records what it accepts. */
function fakeQueue() {
  const state = { down: true, attempts: 0, accepted: [] as SinkMessage[] };
  const queue = {
    async send(body: unknown) {
      state.attempts++;
      if (state.down) throw new Error("queue unavailable");
      state.accepted.push(sinkMessageSchema.parse(body));
    },
    async sendBatch() {
      throw new Error("the outbox sends one message at a time");
    },
  } as unknown as Queue;
  return { state, queue };
}

/** A fresh tenant object on the injected clock, its outbox sending to `queue`. */
async function objectWith(tenantId: string, queue: Queue, nowMs: number) {
  const stub = env.TENANT.get(env.TENANT.idFromName(tenantId));
  await setClock(stub, nowMs);
  await runInDurableObject(stub, (obj: TenantObject) => obj.compose({ queue, redis: null }));
  return stub;
}

async function setClock(stub: DurableObjectStub<TenantObject>, nowMs: number) {
  await runInDurableObject(stub, (obj: TenantObject) => {
    obj.clock = () => nowMs;
  });
}

/** Runs the object's sub-second timers due `ms` from its clock (the coalesced hand-off) without waiting. */
async function runTimers(stub: DurableObjectStub<TenantObject>, ms: number) {
  await runInDurableObject(stub, (obj: TenantObject) => obj.timers.runDue(obj.clock() + ms));
}

function alarmOf(stub: DurableObjectStub<TenantObject>) {
  return runInDurableObject(stub, (_o: TenantObject, state) => state.storage.getAlarm());
}

/** The outbox's cursor: the newest seq the queue has accepted (0 before the first). */
function cursorOf(stub: DurableObjectStub<TenantObject>) {
  return runInDurableObject(stub, (_o: TenantObject, state) => {
    const row = state.storage.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'sink_seq'`).toArray();
    return Number(row[0]?.value ?? 0);
  });
}

const sentSeqs = (messages: SinkMessage[]) =>
  messages.flatMap((m) => (m.kind === "signals" ? expandSignals(m).map((s) => s.seq) : []));

describe("sink outbox in workerd", () => {
  it("keeps its cursor when the queue refuses, retries on the alarm with backoff, then sends each row once", async () => {
    const t0 = Date.now() + MONTH_MS;
    const { state, queue } = fakeQueue();
    const stub = await objectWith("outbox-retry", queue, t0);
    const signals = [signal("outbox-retry", t0 - 3000, 0.2), signal("outbox-retry", t0 - 2000, 0.4)];
    await stub.ingest(command("outbox-retry", signals, t0));

    // The hand-off waits for the coalescing window, then fails: nothing is lost, a retry is armed.
    await runTimers(stub, 100);
    expect(state.attempts).toBe(1);
    expect(await cursorOf(stub)).toBe(0);
    // One alarm for every part: the retry (1 s) comes before the window's next change (a day).
    expect(await alarmOf(stub)).toBe(t0 + outboxBackoffMs(1));

    await setClock(stub, t0 + outboxBackoffMs(1));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(state.attempts).toBe(2);
    expect(await alarmOf(stub)).toBe(t0 + outboxBackoffMs(1) + outboxBackoffMs(2));

    state.down = false;
    await setClock(stub, t0 + outboxBackoffMs(1) + outboxBackoffMs(2));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(sentSeqs(state.accepted)).toEqual([1, 2]);
    const scores = state.accepted.filter((m) => m.kind === "score");
    expect(scores).toHaveLength(1);
    expect(scores[0]).toMatchObject({ score: { tenantId: "outbox-retry", signalCount: 2 } });
    expect(await cursorOf(stub)).toBe(2);
    // Healthy again: the alarm is back on the window (the oldest signal leaves it).
    expect(await alarmOf(stub)).toBe(t0 - 3000 + WINDOW_MS);

    // The next change goes out within the window, from the cursor: only the new row.
    const later = signal("outbox-retry", t0 - 1000, 0.6);
    await stub.ingest(command("outbox-retry", [later], t0 + 5000));
    await runTimers(stub, 100);
    expect(sentSeqs(state.accepted)).toEqual([1, 2, 3]);
    expect(await cursorOf(stub)).toBe(3);
  });

  it("prunes no row the queue has not taken, whatever its age", async () => {
    const t0 = Date.now() + MONTH_MS;
    const { state, queue } = fakeQueue();
    const stub = await objectWith("outbox-prune", queue, t0);
    await stub.ingest(command("outbox-prune", [signal("outbox-prune", t0 - 1000, 0.5)], t0));
    await runTimers(stub, 100);
    expect(state.attempts).toBe(1);

    // Two days on, the row has left the window and outlived its dedupe record, but the queue still refuses.
    const late = t0 + WINDOW_MS + RECORD_TTL_MS;
    await setClock(stub, late);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.storedSignals()).toBe(1);
    // The alarm is armed for the retry, not for a prune the store may not do yet (an instant already past).
    expect(await alarmOf(stub)).toBe(late + outboxBackoffMs(2));

    state.down = false;
    await setClock(stub, late + outboxBackoffMs(2));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(sentSeqs(state.accepted)).toEqual([1]);
    // Taken by the queue: pruned by the hand-off's own window step, or at the latest by the alarm it arms.
    await runDurableObjectAlarm(stub);
    expect(await stub.storedSignals()).toBe(0);
  });
});
