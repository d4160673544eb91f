import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { METRICS_FLUSH_MS, MetricsBuffer } from "../../src/metrics/collect";
import type { Observation } from "../../src/metrics/model";

/** A namespace whose shards record the batches they receive. */
function fakeNamespace() {
  const batches: Observation[][] = [];
  const ns = {
    idFromName: (name: string) => name,
    get: () => ({
      observe: async (batch: Observation[]) => {
        batches.push(batch);
      },
    }),
  };
  return { ns: ns as unknown as Env["METRICS"], batches };
}

const obs = (value: number): Observation => ({
  name: "http_requests_total",
  labels: { op: "x", status: "200" },
  value,
});

describe("MetricsBuffer: every send belongs to the request that claims it", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("gives the first request of a window a send and the others none; that send carries all of them", async () => {
    const { ns, batches } = fakeNamespace();
    const buffer = new MetricsBuffer(ns, { unpinnedDurableObjects: true }, () => Date.now());
    buffer.add([obs(1)]);
    const first = buffer.claimSend();
    expect(first).toBeInstanceOf(Promise);
    buffer.add([obs(2)]);
    expect(buffer.claimSend()).toBeNull();
    buffer.add([obs(3)]);
    expect(buffer.claimSend()).toBeNull();
    await vi.advanceTimersByTimeAsync(METRICS_FLUSH_MS);
    await first;
    expect(batches).toEqual([[obs(1), obs(2), obs(3)]]);
    expect(buffer.size).toBe(0);
    // The next window is claimed afresh.
    buffer.add([obs(4)]);
    const next = buffer.claimSend();
    expect(next).toBeInstanceOf(Promise);
    await vi.advanceTimersByTimeAsync(METRICS_FLUSH_MS);
    await next;
    expect(batches).toEqual([[obs(1), obs(2), obs(3)], [obs(4)]]);
  });

  it("sends at once, from the request that filled it, when the buffer is full", async () => {
    const { ns, batches } = fakeNamespace();
    const buffer = new MetricsBuffer(ns, { unpinnedDurableObjects: true }, () => Date.now());
    buffer.add([obs(0)]);
    const owner = buffer.claimSend();
    buffer.add(Array.from({ length: 499 }, (_, i) => obs(i + 1)));
    const full = buffer.claimSend();
    expect(full).toBeInstanceOf(Promise);
    await full;
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(500);
    await vi.advanceTimersByTimeAsync(METRICS_FLUSH_MS);
    await owner;
    expect(batches).toHaveLength(1); // nothing left for the owner's send
  });

  it("lets another request claim when a claimed send never ran (its request was cancelled)", () => {
    const { ns } = fakeNamespace();
    let now = 0;
    const buffer = new MetricsBuffer(ns, { unpinnedDurableObjects: true }, () => now);
    buffer.add([obs(1)]);
    expect(buffer.claimSend()).not.toBeNull();
    now += METRICS_FLUSH_MS;
    expect(buffer.claimSend()).toBeNull();
    now += 10 * METRICS_FLUSH_MS;
    expect(buffer.claimSend()).not.toBeNull();
  });

  it("claims nothing while the buffer is empty", () => {
    const { ns } = fakeNamespace();
    expect(new MetricsBuffer(ns, { unpinnedDurableObjects: true }).claimSend()).toBeNull();
  });
});
