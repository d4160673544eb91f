import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FlushScheduler } from "../../durable-objects/flush-scheduler";
import type { TenantObject } from "../../durable-objects/tenant";
import { computeScore } from "../../src/domain/score";
import { WINDOW_MS } from "../../src/domain/window";
import { command, readScore, signal } from "./helpers";

function stubFor(tenantId: string) {
  return env.TENANT.get(env.TENANT.idFromName(tenantId));
}

async function setClock(stub: DurableObjectStub<TenantObject>, nowMs: number) {
  await runInDurableObject(stub, (obj: TenantObject) => {
    obj.clock = () => nowMs;
  });
}

async function windowRow(stub: DurableObjectStub<TenantObject>) {
  return runInDurableObject(stub, (_obj: TenantObject, state) =>
    state.storage.sql.exec<{ count: number; sum_w: number }>("SELECT count, sum_w FROM window_state").one(),
  );
}

describe("tenant Durable Object", () => {
  it("scores accepted signals through RPC and dedupes repeats", async () => {
    const stub = stubFor("rpc-basic");
    const now = Date.now();
    await setClock(stub, now);
    const a = signal("rpc-basic", now - 1000, 0.9, { weight: 2 });
    const b = signal("rpc-basic", now - 2000, 0.3);
    const first = await stub.ingest(command("rpc-basic", [a, b, a], now));
    expect(first).toMatchObject({ kind: "applied", replayed: false, response: { accepted: 2, duplicates: 1 } });
    const again = await stub.ingest(command("rpc-basic", [b], now));
    expect(again).toMatchObject({ response: { accepted: 0, duplicates: 1 } });
    const view = await readScore(stub, "rpc-basic");
    expect(view.score).toBe(computeScore([{ v: 0.9, w: 2 }, { v: 0.3 }]));
    expect(view).toMatchObject({ tenantId: "rpc-basic", status: "WARN", signalCount: 2 }); // (1.8 + 0.3) / 3 = 0.7
  });

  it("replays an idempotent request and refuses the key with another body", async () => {
    const stub = stubFor("rpc-idem");
    const now = Date.now();
    const cmd = {
      ...command("rpc-idem", [signal("rpc-idem", now, 0.5)], now),
      idempotency: { key: "k1", bodyHash: "h1" },
    };
    const first = await stub.ingest(cmd);
    const replay = await stub.ingest({ ...cmd, provenanceId: "other" });
    expect(replay).toEqual({ ...first, replayed: true });
    const conflict = await stub.ingest({ ...cmd, idempotency: { key: "k1", bodyHash: "h2" } });
    expect(conflict).toEqual({ kind: "idempotency_conflict" });
    expect((await readScore(stub, "rpc-idem")).signalCount).toBe(1);
  });

  it("expires signals on its alarm with no new traffic", async () => {
    const stub = stubFor("rpc-expiry");
    const t0 = Date.now();
    await setClock(stub, t0);
    const old = signal("rpc-expiry", t0 - WINDOW_MS + 1000, 1);
    const fresh = signal("rpc-expiry", t0, 0);
    await stub.ingest(command("rpc-expiry", [old, fresh], t0));
    expect((await readScore(stub, "rpc-expiry")).score).toBe(0.5);

    const armed = await runInDurableObject(stub, (_o: TenantObject, state) => state.storage.getAlarm());
    expect(armed).toBe(old.tsMs + WINDOW_MS);

    await setClock(stub, t0 + 1000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    // The alarm, not a read, moved the window: check the stored sums directly.
    expect(await windowRow(stub)).toEqual({ count: 1, sum_w: 1 });
    const view = await readScore(stub, "rpc-expiry");
    expect(view).toMatchObject({ score: 0, status: "CRITICAL", signalCount: 1 });

    // The alarm re-armed for the next exit.
    const next = await runInDurableObject(stub, (_o: TenantObject, state) => state.storage.getAlarm());
    expect(next).toBe(fresh.tsMs + WINDOW_MS);
  });

  it("lets a future signal enter the window at its ts", async () => {
    const stub = stubFor("rpc-future");
    const t0 = Date.now();
    await setClock(stub, t0);
    const future = signal("rpc-future", t0 + 60_000, 0.8);
    await stub.ingest(command("rpc-future", [future], t0));
    expect(await readScore(stub, "rpc-future")).toMatchObject({ signalCount: 0, status: "UNKNOWN", score: 0 });
    await setClock(stub, t0 + 60_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await windowRow(stub)).toEqual({ count: 1, sum_w: 1 });
    expect(await readScore(stub, "rpc-future")).toMatchObject({ signalCount: 1, score: 0.8, status: "HEALTHY" });
  });

  it("prunes records a day after they left the window", async () => {
    const stub = stubFor("rpc-prune");
    const t0 = Date.now();
    await setClock(stub, t0);
    await stub.ingest(command("rpc-prune", [signal("rpc-prune", t0 - 1000, 0.4)], t0));
    await setClock(stub, t0 + WINDOW_MS);
    await runDurableObjectAlarm(stub);
    expect(await stub.storedSignals()).toBe(0);
    expect(await readScore(stub, "rpc-prune")).toMatchObject({ signalCount: 0, status: "UNKNOWN" });
  });

  it("refuses requests over the tenant's limit without storing them", async () => {
    const stub = stubFor("rpc-limit");
    const now = Date.now();
    await setClock(stub, now);
    const limited = { ...command("rpc-limit", [signal("rpc-limit", now, 0.5)], now), rpsMax: 2 };
    expect((await stub.ingest(limited)).kind).toBe("applied");
    expect((await stub.score("rpc-limit", 2)).kind).toBe("ok");
    const refused = await stub.ingest({ ...limited, signals: [signal("rpc-limit", now - 1, 0.1)] });
    expect(refused).toEqual({ kind: "rate_limited", retryAfterSeconds: 1 });
    await setClock(stub, now + 1000);
    expect((await readScore(stub, "rpc-limit")).signalCount).toBe(1);
  });

  it("keeps signals, sums and dedupe records across eviction", async () => {
    const stub = stubFor("rpc-evict");
    const now = Date.now();
    const s = signal("rpc-evict", now, 0.6);
    await stub.ingest(command("rpc-evict", [s], now));
    const before = await readScore(stub, "rpc-evict");
    await evictDurableObject(stub);
    expect(await readScore(stub, "rpc-evict")).toMatchObject({ score: before.score, signalCount: 1 });
    expect(await stub.ingest(command("rpc-evict", [s], now))).toMatchObject({ response: { duplicates: 1 } });
  });
});

describe("tenant storage fidelity", () => {
  it("stores values and weights bit-exactly, so recomputed sums equal computeScore", async () => {
    const stub = stubFor("rpc-fidelity");
    const now = Date.now();
    await setClock(stub, now);
    // Awkward doubles: thirds, tiny and huge magnitudes, values near rounding boundaries.
    const values = Array.from({ length: 200 }, (_, i) => ((i * 7919) % 10007) / 10007 + (i % 3) / 3e9);
    const weights = values.map((_, i) => [1 / 3, 1e6 - 1e-7, 2.5e-300, 0.1 + 0.2, i][i % 5] as number);
    const signals = values.map((v, i) =>
      signal("rpc-fidelity", now - 1000 - i, Math.min(1, v), { weight: weights[i] }),
    );
    await stub.ingest(command("rpc-fidelity", signals, now));
    const stored = await runInDurableObject(stub, (_o: TenantObject, state) =>
      state.storage.sql
        .exec<{ value: number; weight: number }>("SELECT value, weight FROM signals ORDER BY seq")
        .toArray(),
    );
    expect(stored).toEqual(signals.map((s) => ({ value: s.value, weight: s.weight })));
  });
});

describe("tenant object lifecycle", () => {
  it("serves the tenant it is addressed by, whatever a call's arguments name", async () => {
    const stub = stubFor("rpc-name");
    const now = Date.now();
    await stub.ingest(command("someone-else", [signal("someone-else", now, 0.5)], now));
    expect(await readScore(stub, "someone-else")).toMatchObject({ tenantId: "rpc-name", signalCount: 1 });
    // Recorded as before, for a version rolled back to.
    const recorded = await runInDurableObject(stub, (_o: TenantObject, state) =>
      state.storage.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'tenant_id'`).one(),
    );
    expect(recorded.value).toBe("rpc-name");
  });

  it("keeps its sub-second work on one scheduler: one task per key, the earliest, run when due", async () => {
    const ran: string[] = [];
    let now = 1_000;
    let afterRuns = 0;
    const timers = new FlushScheduler(
      "scheduler",
      () => now,
      () => afterRuns++,
    );
    timers.at("fanout", 1_100, () => {
      ran.push("fanout@1100");
    });
    timers.at("fanout", 1_050, () => {
      ran.push("fanout@1050");
    });
    timers.at("fanout", 1_900, () => {
      ran.push("fanout@1900");
    });
    timers.at("outbox", 1_100, () => {
      ran.push("outbox");
    });
    expect([timers.dueAt("fanout"), timers.dueAt("outbox")]).toEqual([1_050, 1_100]);
    now = 1_060;
    await timers.runDue();
    expect(ran).toEqual(["fanout@1050"]);
    expect(timers.dueAt("fanout")).toBeNull();
    await timers.runDue(1_100);
    expect(ran).toEqual(["fanout@1050", "outbox"]);
    expect(afterRuns).toBe(2);
  });
});

describe("the score's breakdown (by source and type)", () => {
  async function readBreakdown(stub: DurableObjectStub<TenantObject>, tenantId: string) {
    const outcome = await stub.breakdown(tenantId, 1000);
    if (outcome.kind !== "ok") throw new Error(`breakdown refused: ${outcome.kind}`);
    return outcome.view;
  }

  it("follows ingest and the window, and equals a recomputation over the signals in it", async () => {
    const tenant = "breakdown-window";
    const stub = stubFor(tenant);
    const t0 = Date.now();
    await setClock(stub, t0);
    const early = [
      signal(tenant, t0 - WINDOW_MS + 60_000, 0.1, { signalId: "old-db", source: "db", type: "errors", weight: 4 }),
      signal(tenant, t0 - WINDOW_MS + 60_000, 0.2, { signalId: "old-edge", source: "edge", type: "latency" }),
    ];
    const late = [
      signal(tenant, t0 - 1000, 0.9, { signalId: "new-edge", source: "edge", type: "latency", weight: 2 }),
      signal(tenant, t0 - 2000, 0.6, { signalId: "new-cache", source: "cache", type: "errors" }),
    ];
    await stub.ingest(command(tenant, [...early, ...late], t0));
    const before = await readBreakdown(stub, tenant);
    expect(before.signalCount).toBe(4);
    expect(before.bySource.map((c) => [c.key, c.signalCount])).toEqual([
      ["db", 1],
      ["cache", 1],
      ["edge", 2],
    ]);
    expect(before.byType.find((c) => c.key === "errors")?.weightedMean).toBe(
      computeScore([
        { v: 0.1, w: 4 },
        { v: 0.6, w: 1 },
      ]),
    );

    // Two minutes later the early signals have left the window: "db" is gone, the rest recomputed.
    await setClock(stub, t0 + 120_000);
    const after = await readBreakdown(stub, tenant);
    expect(after.signalCount).toBe(2);
    expect(after.score).toBe(computeScore([{ v: 0.9, w: 2 }, { v: 0.6 }]));
    expect(after.bySource).toEqual([
      { key: "cache", signalCount: 1, weightShare: 0.3333, weightedMean: 0.6, pull: -0.0667 },
      { key: "edge", signalCount: 1, weightShare: 0.6667, weightedMean: 0.9, pull: 0.0667 },
    ]);
    expect(after.byType.map((c) => c.key)).toEqual(["errors", "latency"]);
    const rows = await runInDurableObject(stub, (_obj: TenantObject, state) =>
      state.storage.sql
        .exec<{ kind: string; key: string }>("SELECT kind, key FROM group_sums ORDER BY kind, key")
        .toArray(),
    );
    expect(rows).toEqual([
      { kind: "source", key: "cache" },
      { kind: "source", key: "edge" },
      { kind: "type", key: "errors" },
      { kind: "type", key: "latency" },
    ]);
  });

  it("is a read: counted and limited like the score", async () => {
    const tenant = "breakdown-limit";
    const stub = stubFor(tenant);
    const now = Date.now();
    await setClock(stub, now);
    await stub.ingest(command(tenant, [signal(tenant, now - 1000, 0.5)], now));
    expect(await stub.breakdown(tenant, 1)).toMatchObject({ kind: "rate_limited" });
  });
});

describe("the score's history (one point per minute that changed it)", () => {
  async function readHistory(stub: DurableObjectStub<TenantObject>, tenantId: string, minutes = 1440) {
    const outcome = await stub.history(tenantId, 1000, minutes);
    if (outcome.kind !== "ok") throw new Error(`history refused: ${outcome.kind}`);
    return outcome.view.points;
  }
  const minuteOf = (ms: number) => new Date(Math.floor(ms / 60_000) * 60_000).toISOString();

  it("keeps each minute's last score, the current one last, and forgets points past 24 h", async () => {
    const tenant = "history-minutes";
    const stub = stubFor(tenant);
    const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 3 * 3_600_000; // a minute's start, 3 h ago
    const at = async (ms: number, value: number, id: string) => {
      await setClock(stub, ms);
      await stub.ingest(command(tenant, [signal(tenant, ms - 1000, value, { signalId: id })], ms));
    };
    await at(t0 + 5_000, 0.9, "a");
    await at(t0 + 20_000, 0.3, "b"); // same minute: this is the minute's last score
    await at(t0 + 65_000, 0.6, "c"); // next minute: closes the first
    await at(t0 + 190_000, 0.0, "d"); // two minutes on: closes the second
    const points = await readHistory(stub, tenant);
    expect(points).toEqual([
      { at: minuteOf(t0), score: computeScore([{ v: 0.9 }, { v: 0.3 }]), status: "WARN", signalCount: 2 },
      {
        at: minuteOf(t0 + 65_000),
        score: computeScore([{ v: 0.9 }, { v: 0.3 }, { v: 0.6 }]),
        status: "WARN",
        signalCount: 3,
      },
      {
        at: minuteOf(t0 + 190_000),
        score: computeScore([{ v: 0.9 }, { v: 0.3 }, { v: 0.6 }, { v: 0 }]),
        status: "CRITICAL",
        signalCount: 4,
      },
    ]);
    // At most one stored row a minute, whatever the traffic.
    const rows = await runInDurableObject(stub, (_obj: TenantObject, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM score_history").one(),
    );
    expect(rows.n).toBe(2);
    // The last 2 minutes only.
    expect((await readHistory(stub, tenant, 2)).map((p) => p.at)).toEqual([minuteOf(t0 + 190_000)]);

    // A day later the window has emptied (a change, so a point) and the old minutes are gone.
    await setClock(stub, t0 + WINDOW_MS + 600_000);
    const later = await readHistory(stub, tenant);
    expect(later.at(-1)).toMatchObject({ status: "UNKNOWN", signalCount: 0, score: 0 });
    expect(later.some((p) => p.at === minuteOf(t0))).toBe(false);
    // The next change stores that minute and removes rows older than 24 h before it from storage too.
    await at(t0 + WINDOW_MS + 720_000, 0.5, "e");
    const kept = await runInDurableObject(stub, (_obj: TenantObject, state) =>
      state.storage.sql.exec<{ minute: number }>("SELECT minute FROM score_history ORDER BY minute").toArray(),
    );
    expect(kept.map((r) => r.minute * 60_000)).toEqual([Math.floor((t0 + WINDOW_MS + 600_000) / 60_000) * 60_000]);
  });
});
