// @coherence/client inside workerd (the Workers runtime): the package loads without Node APIs, batches, publishes
// and reads the score back through the Worker under test (its `fetch` is the Worker's own entry point here, as a
// service binding would be in production).

import { exports } from "cloudflare:workers";
import { createCoherenceClient } from "@coherence/client";
import { describe, expect, it } from "vitest";
import { token } from "./helpers";

describe("@coherence/client in workerd", () => {
  it("publishes single signals as one batch and reads the score back", async () => {
    const tenantId = `client-workerd-${crypto.randomUUID()}`;
    const requests: string[] = [];
    const client = createCoherenceClient({
      url: "https://coherence.test",
      token: await token({ tenant: tenantId, scope: "coherence:read coherence:write" }),
      fetch: (input, init) => {
        const request = new Request(input, init);
        requests.push(new URL(request.url).pathname);
        return exports.default.fetch(request);
      },
      batching: { maxDelayMs: 1 },
    });
    const values = [0.2, 0.6, 1];
    const results = await Promise.all(
      values.map((value, i) => client.publish({ tenantId, type: "latency", source: `probe-${i}`, value })),
    );
    expect(results.map((r) => r.status)).toEqual(["accepted", "accepted", "accepted"]);
    expect(requests).toEqual(["/v1/coherence/signals"]);
    const score = await client.score(tenantId);
    expect(score).toMatchObject({ tenantId, signalCount: 3, score: 0.6, status: "WARN" });
    await client.close();
  });
});
