import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import worker from "../../src/index";
import { retryDelaySeconds } from "../../src/queues/consumer";
import { packSignals, type SinkMessage, type SinkSignal } from "../../src/queues/messages";
import { deadLetterStore } from "../../src/residency";

// The sink queue's consumer through the Worker's own `queue` handler, inside workerd: batches built with
// createMessageBatch, acks and retries read back with getQueueResult. A sink is made to fail by pointing its
// setting at a host the tests' outbound service answers with 503. The dead-letter queue binding is recorded instead
// of sent (its delivery would be asynchronous), and the recorded letters are handed to the dead-letter consumer the
// same way.

function signals(tenantId: string, n: number): SinkSignal[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    signalId: `${tenantId}-${i}`,
    type: "latency",
    source: "queue-test",
    value: 0.5,
    weight: 1,
    tsMs: 1_700_000_000_000 + i,
    acceptedMs: 1_700_000_000_000 + i,
    provenanceId: `p-${tenantId}`,
    tags: { purpose: "benchmarking" },
  }));
}

function scoreMessage(tenantId: string, version: number): SinkMessage {
  return {
    v: 3,
    kind: "score",
    score: { tenantId, score: 0.5, status: "WARN", signalCount: 3, updatedAtMs: 1_700_000_000_000, version },
  };
}

/** The Worker's bindings with `settings` on top and the dead-letter queue recorded. */
function workerEnv(settings: Record<string, string> = {}) {
  const letters: unknown[] = [];
  const SINK_DLQ = {
    async send(body: unknown) {
      letters.push(body);
    },
    async sendBatch(messages: Array<{ body: unknown }>) {
      for (const m of messages) letters.push(m.body);
    },
  };
  return { env: { ...env, ...settings, SINK_DLQ } as unknown as Env, letters };
}

/**
 * Runs one batch through the Worker's queue handler and returns what it acked and retried, with the delay asked
 * for each retry (getQueueResult reports retries without their delay, so `retry` calls are observed as well).
 */
async function deliver(queue: string, bodies: unknown[], on: Env, attempts = 1) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts, body })),
  );
  const delays = new Map<string, number | undefined>();
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    Object.defineProperty(message, "retry", {
      value: (options?: QueueRetryOptions) => {
        delays.set(message.id, options?.delaySeconds);
        retry(options);
      },
    });
  }
  const ctx = createExecutionContext();
  await worker.queue(batch, on, ctx);
  const result = await getQueueResult(batch, ctx);
  return { ...result, delays };
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `m${i}`);

async function deadLetters() {
  return deadLetterStore(env, loadConfig(env)).list(1000);
}

describe("sink queue consumer in workerd", () => {
  it("acks every message of a batch its sinks took (none configured here: nothing to write)", async () => {
    const { env: on, letters } = workerEnv();
    const bodies = [...packSignals("q-ack", signals("q-ack", 3)), scoreMessage("q-ack", 1)];
    const result = await deliver("coherence-sink", bodies, on);
    expect(result.explicitAcks.sort()).toEqual(ids(bodies.length));
    expect(result.retryMessages).toEqual([]);
    expect(result.retryBatch.retry).toBe(false);
    expect(letters).toEqual([]);
  });

  it("retries a tenant's messages with backoff while its sink is down, acking none", async () => {
    // Answered 503 by the tests' outbound service (vitest.config.ts); unreachable hosts: test/unit/neo4j-query-api.test.ts.
    const { env: on, letters } = workerEnv({ NEO4J_URL: "http://neo4j-down.test" });
    const bodies = [...packSignals("q-down", signals("q-down", 3)), scoreMessage("q-down", 2)];
    const result = await deliver("coherence-sink", bodies, on, 3);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(ids(bodies.length));
    expect([...result.delays.values()]).toEqual(bodies.map(() => retryDelaySeconds(3)));
    expect(letters).toEqual([]);
  });

  it("dead-letters a message it cannot read (acked, never retried), and the dead-letter consumer keeps it", async () => {
    const { env: on, letters } = workerEnv();
    const marker = crypto.randomUUID();
    const bodies = [{ v: 99, kind: "signals", marker }, ...packSignals("q-poison", signals("q-poison", 2))];
    const result = await deliver("coherence-sink", bodies, on);
    expect(result.explicitAcks.sort()).toEqual(ids(bodies.length));
    expect(result.retryMessages).toEqual([]);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ body: { marker }, error: { code: "INVALID_MESSAGE" } });

    const before = (await deadLetters()).length;
    const kept = await deliver("coherence-sink-dlq", letters, on);
    expect(kept.ackAll).toBe(true);
    const after = await deadLetters();
    expect(after).toHaveLength(before + 1);
    expect(after.at(-1)).toMatchObject({ code: "INVALID_MESSAGE" });
  });

  it("keeps a message the queue moved after its last retry as RETRIES_EXHAUSTED", async () => {
    const { env: on } = workerEnv();
    const [original] = packSignals("q-exhausted", signals("q-exhausted", 1));
    const before = (await deadLetters()).length;
    const kept = await deliver("coherence-sink-dlq", [original], on, 9);
    expect(kept.ackAll).toBe(true);
    const after = await deadLetters();
    expect(after).toHaveLength(before + 1);
    expect(after.at(-1)).toMatchObject({ code: "RETRIES_EXHAUSTED", reason: "after 9 attempts" });
  });
});
