import { describe, expect, it } from "vitest";
import type { Sinks } from "../../src/adapters/sinks";
import { loadConfig } from "../../src/config";
import { SinkError } from "../../src/ports";
import { consumeSinkBatch, GRAPH_LANES, MAX_ROWS_PER_STATEMENT } from "../../src/queues/consumer";
import { packSignals, type SinkScore, type SinkSignal } from "../../src/queues/messages";

// The queue consumer below e2e: lanes, statement sizes, ack / retry / dead letter per tenant.

const config = loadConfig({ ENVIRONMENT: "test", JWT_PUBLIC_KEY: "unused" });

function signals(tenant: string, n: number): SinkSignal[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    signalId: `${tenant}-${i}`,
    type: "latency",
    source: "unit",
    value: 0.5,
    weight: 1,
    tsMs: 1_700_000_000_000 + i,
    acceptedMs: 1_700_000_000_000 + i,
    provenanceId: `p-${tenant}-${Math.floor(i / 100)}`,
    tags: { purpose: "benchmarking" },
  }));
}

const score = (tenantId: string, version: number): SinkScore => ({
  tenantId,
  score: 0.5,
  status: "WARN",
  signalCount: 1,
  updatedAtMs: 1_700_000_000_000,
  version,
});

interface FakeMessage {
  id: string;
  body: unknown;
  attempts: number;
  acked: boolean;
  retried: boolean;
  ack(): void;
  retry(): void;
}

function batchOf(bodies: unknown[]) {
  const messages: FakeMessage[] = bodies.map((body, i) => ({
    id: `m${i}`,
    body,
    attempts: 1,
    acked: false as boolean,
    retried: false as boolean,
    ack() {
      this.acked = true;
    },
    retry() {
      this.retried = true;
    },
  }));
  return { messages, batch: { queue: "coherence-sink", messages } as unknown as MessageBatch<unknown> };
}

function fakeSinks(fail: (tenantId: string) => Error | null = () => null) {
  let inFlight = 0;
  const seen = {
    maxInFlight: 0,
    statements: [] as Array<{ tenantId: string; rows: number }>,
    scores: [] as SinkScore[],
  };
  const sinks: Sinks = {
    graph: {
      async writeSignals(tenantId, rows) {
        inFlight++;
        seen.maxInFlight = Math.max(seen.maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        const err = fail(tenantId);
        if (err) throw err;
        seen.statements.push({ tenantId, rows: rows.length });
      },
      async writeScore(s) {
        seen.scores.push(s);
      },
    } as Sinks["graph"],
    scores: null,
  };
  return { sinks, seen };
}

const env = () => {
  const dead: unknown[] = [];
  return { dead, env: { SINK_DLQ: { send: async (m: unknown) => void dead.push(m) } } as unknown as Env };
};

describe("sink queue consumer", () => {
  it("writes at most GRAPH_LANES tenants at once, in statements of at most MAX_ROWS_PER_STATEMENT rows", async () => {
    const bodies = [
      ...["a", "b", "c", "d", "e"].flatMap((t) => packSignals(t, signals(t, 300))),
      ...packSignals("big", signals("big", 4500)),
      { v: 3, kind: "score", score: score("a", 1) },
      { v: 3, kind: "score", score: score("a", 3) },
      { v: 3, kind: "score", score: score("a", 2) },
    ];
    const { messages, batch } = batchOf(bodies);
    const { sinks, seen } = fakeSinks();
    const { env: e } = env();
    await consumeSinkBatch(batch, e, config, undefined, sinks);
    expect(seen.maxInFlight).toBe(GRAPH_LANES);
    expect(Math.max(...seen.statements.map((s) => s.rows))).toBeLessThanOrEqual(MAX_ROWS_PER_STATEMENT);
    const big = seen.statements.filter((s) => s.tenantId === "big").map((s) => s.rows);
    expect(big.reduce((a, b) => a + b, 0)).toBe(4500);
    expect(big.length).toBe(Math.ceil(4500 / MAX_ROWS_PER_STATEMENT));
    for (const t of ["a", "b", "c", "d", "e"]) {
      expect(seen.statements.filter((s) => s.tenantId === t).map((s) => s.rows)).toEqual([300]);
    }
    expect(seen.scores.map((s) => s.version)).toEqual([3]); // the newest score of the batch only
    expect(messages.every((m) => m.acked && !m.retried)).toBe(true);
  });

  it("retries only the failing tenant's messages, and dead-letters what retrying cannot fix", async () => {
    const bodies = [
      ...packSignals("ok", signals("ok", 10)),
      ...packSignals("flaky", signals("flaky", 10)),
      ...packSignals("broken", signals("broken", 10)),
      { not: "a sink message" },
    ];
    const { messages, batch } = batchOf(bodies);
    const { sinks } = fakeSinks((t) =>
      t === "flaky" ? new SinkError("neo4j", "down") : t === "broken" ? new SinkError("neo4j", "bad", false) : null,
    );
    const { env: e, dead } = env();
    await consumeSinkBatch(batch, e, config, undefined, sinks);
    const [ok, flaky, broken, invalid] = messages as [FakeMessage, FakeMessage, FakeMessage, FakeMessage];
    expect([ok.acked, ok.retried]).toEqual([true, false]);
    expect([flaky.acked, flaky.retried]).toEqual([false, true]);
    expect([broken.acked, broken.retried]).toEqual([true, false]);
    expect([invalid.acked, invalid.retried]).toEqual([true, false]);
    expect(dead.map((d) => (d as { error: { code: string } }).error.code).sort()).toEqual([
      "INVALID_MESSAGE",
      "NEO4J_REJECTED",
    ]);
  });
});
