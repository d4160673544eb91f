// Automatic recovery in the dead-letter store (durable-objects/dead-letters.ts), in workerd with explicit instants:
// letters whose retry budget ran out are redriven once the stores answer, with the probe backing off while they do
// not; letters a store refused for good, and messages that keep coming back, wait for `npm run dlq:replay`.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type DeadLetterStore, MAX_REDRIVES, redriveDelayMs } from "../../durable-objects/dead-letters";
import { loadConfig } from "../../src/config";
import { sha256Hex } from "../../src/domain/dedupe-key";

const store = (name: string) => env.DEAD_LETTERS.get(env.DEAD_LETTERS.idFromName(name));
const letter = (n: number, code: string) => ({
  body: {
    v: 3,
    kind: "score",
    score: { tenantId: `redrive-${n}`, score: 0.5, status: "WARN", signalCount: 1, updatedAtMs: 1, version: n },
  },
  error: { code, reason: "test" },
  failedAt: 1,
});
/** A sink that is down: the tests' outbound service answers every store request with 503. */
const storesDown = loadConfig({ ...env, NEO4J_URL: "http://neo4j.invalid:7474", NEO4J_PASSWORD: "x" } as Env);
/** No store configured: nothing to probe, so the stores count as answering. */
const storesUp = loadConfig({ ...env } as Env);

describe("dead-letter redrive", () => {
  it("probes with backoff while the stores are down, then sends the transient letters back by itself", async () => {
    const stub = store("redrive-1");
    const before = Date.now();
    await stub.add([letter(1, "RETRIES_EXHAUSTED"), letter(2, "RETRIES_EXHAUSTED"), letter(3, "NEO4J_REJECTED")]);
    const status = await stub.redriveStatus();
    const base = storesUp.sinkRecovery.redriveBaseMs;
    expect(status).toMatchObject({ pending: 2, failedProbes: 0 });
    expect(status.nextAtMs).toBeGreaterThanOrEqual(before + base);
    expect(await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())).toBe(status.nextAtMs);

    // Due, but the graph store does not answer: nothing is sent, the next probe waits twice as long.
    const t1 = (status.nextAtMs as number) + 1;
    await runInDurableObject(stub, (obj: DeadLetterStore) => obj.redrive(storesDown, t1));
    expect(await stub.redriveStatus()).toEqual({ pending: 2, nextAtMs: t1 + redriveDelayMs(base, 1), failedProbes: 1 });
    // Not due yet: no probe at all.
    await runInDurableObject(stub, (obj: DeadLetterStore) => obj.redrive(storesDown, t1 + 1000));
    expect((await stub.redriveStatus()).failedProbes).toBe(1);

    // The stores answer: both transient letters go back to the queue; the refused one stays for dlq:replay.
    const t2 = t1 + redriveDelayMs(base, 1);
    await runInDurableObject(stub, (obj: DeadLetterStore) => obj.redrive(storesUp, t2));
    expect(await stub.redriveStatus()).toEqual({ pending: 0, nextAtMs: null, failedProbes: 0 });
    expect((await stub.list()).map((l) => l.code)).toEqual(["NEO4J_REJECTED"]);
    expect(await stub.count()).toBe(1);
  });

  it("keeps a message that was redriven MAX_REDRIVES times for dlq:replay instead of sending it again", async () => {
    const stub = store("redrive-2");
    const poison = letter(7, "RETRIES_EXHAUSTED");
    const hash = await sha256Hex(JSON.stringify(poison.body));
    await runInDurableObject(stub, (_o, state) => {
      state.storage.sql.exec(`INSERT INTO redriven (body_hash, n, last_ms) VALUES (?, ?, 0)`, hash, MAX_REDRIVES);
    });
    await stub.add([poison]);
    expect(await stub.redriveStatus()).toMatchObject({ pending: 0 });
    expect((await stub.list()).map((l) => l.code)).toEqual(["REDRIVES_EXHAUSTED"]);
  });

  it("backs off by doubling from the base, at most 20 times it", () => {
    expect([0, 1, 2, 3, 4, 5, 9].map((f) => redriveDelayMs(1000, f))).toEqual([
      1000, 2000, 4000, 8000, 16000, 20000, 20000,
    ]);
  });
});

describe("retention of dead letters (POLICY_RETENTION)", () => {
  it("removes, on the daily job, dead letters and parked messages older than the policy, and keeps the rest", async () => {
    const worker = (await import("../../src/index")).default;
    const dlq = env.DEAD_LETTERS.get(env.DEAD_LETTERS.idFromName("dlq"));
    const day = 86_400_000;
    const now = Date.now();
    await dlq.add([
      { ...letter(40, "POSTGRES_REJECTED"), failedAt: now - 40 * day },
      { ...letter(20, "POSTGRES_REJECTED"), failedAt: now - 20 * day },
    ]);
    const before = await dlq.count();
    // The daily cron, as of now, with a 30-day policy: the 40-day-old letter goes, the 20-day-old one stays.
    const controller = { scheduledTime: now, cron: "17 3 * * *", noRetry() {} } as ScheduledController;
    await worker.scheduled?.(controller, { ...env, POLICY_RETENTION: "short-30d" } as Env);
    expect(await dlq.count()).toBe(before - 1);
    expect((await dlq.list(1000)).some((l) => l.failedAt === now - 20 * day)).toBe(true);
    expect((await dlq.list(1000)).some((l) => l.failedAt === now - 40 * day)).toBe(false);
    // With the default standard-365d nothing of this is old enough.
    await worker.scheduled?.(controller, env as Env);
    expect(await dlq.count()).toBe(before - 1);
  });
});
