import { createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { gatherMetrics, MetricsBuffer } from "../../src/metrics/collect";
import { METRICS } from "../../src/metrics/model";
import { consumeDeadLetters } from "../../src/queues/dead-letters";
import { deadLetterStore, type Pinning } from "../../src/residency";
import { TenantClient } from "../../src/tenant-client";

// Every Durable Object binding that holds tenant data is addressed through src/residency.ts, which pins it to the
// US jurisdiction. workerd implements no jurisdictions, so each real binding is wrapped in a fake whose
// `jurisdiction("us")` is recorded and answers with the real namespace; the code paths themselves are real.

type Calls = string[];

function recording<N extends object>(real: N, calls: Calls): N {
  return new Proxy(real, {
    get(target, prop) {
      if (prop === "jurisdiction") {
        return (name: string) => {
          calls.push(`jurisdiction:${name}`);
          return recording(target, calls);
        };
      }
      if (prop === "idFromName") {
        return (name: string) => {
          calls.push(`idFromName:${name}`);
          return (target as unknown as DurableObjectNamespace).idFromName(name);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const PINNED: Pinning = { unpinnedDurableObjects: false };

/** Every idFromName was preceded by jurisdiction("us"): nothing was addressed outside it. */
function expectPinned(calls: Calls): void {
  expect(calls.length).toBeGreaterThan(0);
  calls.forEach((call, i) => {
    if (call.startsWith("idFromName:")) expect(calls[i - 1], calls.join(" ")).toBe("jurisdiction:us");
  });
}

describe("residency: every binding that holds tenant data is pinned to the US", () => {
  it("TENANT: the tenant client's calls", async () => {
    const calls: Calls = [];
    const fakeEnv = { ...env, TENANT: recording(env.TENANT, calls) } as Env;
    const config = { ...loadConfig(env), unpinnedDurableObjects: false };
    const view = await new TenantClient({ env: fakeEnv, config }, "residency-a").score();
    expect(view.tenantId).toBe("residency-a");
    expectPinned(calls);
    expect(calls).toContain("idFromName:residency-a");
  });

  it("DEAD_LETTERS: the dead-letter consumer and the operator's list", async () => {
    const calls: Calls = [];
    const fakeEnv = { ...env, DEAD_LETTERS: recording(env.DEAD_LETTERS, calls) } as Env;
    const batch = createMessageBatch("coherence-sink-dlq", [
      {
        id: "m1",
        timestamp: new Date(),
        attempts: 1,
        body: { body: { x: 1 }, error: { code: "C", reason: "r" }, failedAt: 1 },
      },
    ]);
    await consumeDeadLetters(batch, fakeEnv, PINNED);
    expect(await deadLetterStore(fakeEnv, PINNED).count()).toBeGreaterThan(0);
    expectPinned(calls);
    expect(calls.filter((c) => c === "idFromName:dlq")).toHaveLength(2);
  });

  it("METRICS: sends from a request's buffer, and /metrics reading every shard", async () => {
    const calls: Calls = [];
    const ns = recording(env.METRICS, calls);
    const buffer = new MetricsBuffer(ns, PINNED);
    buffer.add([{ name: METRICS.httpRequests.name, labels: { op: "residency", status: "200" }, value: 1 }]);
    await buffer.send();
    await gatherMetrics(ns, PINNED);
    expectPinned(calls);
    expect(calls.filter((c) => c.startsWith("idFromName:metrics-")).length).toBeGreaterThanOrEqual(9);
  });

  it("fails closed (503) when a namespace cannot be pinned", async () => {
    const broken = {
      ...env,
      DEAD_LETTERS: {
        ...env.DEAD_LETTERS,
        jurisdiction: () => {
          throw new Error("no");
        },
      },
    } as unknown as Env;
    expect(() => deadLetterStore(broken, PINNED)).toThrow(/jurisdiction/);
  });
});
