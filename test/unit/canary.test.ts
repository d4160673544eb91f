// The canary verdict (scripts/lib/canary.mjs) on scrapes built from the service's own exposition format, and the
// `version` label the Worker adds when it knows its version (src/http/middleware/logging.ts).
import { describe, expect, it } from "vitest";
import { decide, delta, figures, histogramFigures, parseMetrics, SLO } from "../../scripts/lib/canary.mjs";
import { app } from "../../src/http/app";
import { METRICS_FLUSH_MS } from "../../src/metrics/collect";
import { emptyState, METRICS, type Observation, observe, render } from "../../src/metrics/model";
import { fakeNamespace, workerEnv } from "./worker-harness";

/** A `/metrics` text with `reads` reads at `readSeconds`, `writes` writes at 0.05 s and `errors` 500s. */
function scrape(version: string, reads: number, readSeconds: number, errors = 0, writes = 10): string {
  const v = { version };
  const obs: Observation[] = [
    { name: METRICS.httpRequests.name, labels: { op: "graphql_query", status: "200", ...v }, value: reads },
    { name: METRICS.httpRequests.name, labels: { op: "graphql_mutation", status: "200", ...v }, value: writes },
    { name: METRICS.graphqlDuration.name, labels: { op: "graphql_query", ...v }, value: readSeconds, count: reads },
    { name: METRICS.graphqlDuration.name, labels: { op: "graphql_mutation", ...v }, value: 0.05, count: writes },
  ];
  if (errors > 0) {
    obs.push({ name: METRICS.httpRequests.name, labels: { op: "graphql_query", status: "500", ...v }, value: errors });
  }
  return render(observe(emptyState(), obs));
}

/** Both versions in one exposition, as a gradual deployment's shared `/metrics` shows them. */
const both = (a: string, b: string) => `${a}\n${b}`;

describe("canary verdict (npm run canary:check)", () => {
  it("reads p95 and the share within the SLO from cumulative buckets", () => {
    const f = histogramFigures(
      [
        [0.1, 90],
        [0.35, 96],
        [0.7, 100],
        [Number.POSITIVE_INFINITY, 100],
      ],
      0.35,
    );
    expect(f.count).toBe(100);
    expect(f.withinSlo).toBeCloseTo(0.96);
    // The 95th sample lies in (0.1, 0.35]: 5 of its 6 samples in.
    expect(f.p95).toBeCloseTo(0.1 + 0.25 * (5 / 6));
    expect(histogramFigures([[Number.POSITIVE_INFINITY, 0]], 0.35)).toEqual({ count: 0, p95: null, withinSlo: null });
  });

  it("promotes a canary within every SLO rule and rolls back one that breaks any, per version label", () => {
    const before = parseMetrics(both(scrape("stable", 0, 0.02, 0, 0), scrape("canary", 0, 0.02, 0, 0)));
    const good = parseMetrics(both(scrape("stable", 900, 0.02), scrape("canary", 300, 0.02)));
    const d = delta(before, good);
    const verdict = decide(figures(d, "stable"), figures(d, "canary"), { minRequests: 100 });
    expect(verdict.verdict).toBe("promote");
    expect(verdict.canary).toMatchObject({ requests: 310, errors: 0, read: { count: 300 }, write: { count: 10 } });
    expect(verdict.baseline.requests).toBe(910);

    const slow = delta(before, parseMetrics(both(scrape("stable", 900, 0.02), scrape("canary", 300, 0.5))));
    const slowVerdict = decide(figures(slow, "stable"), figures(slow, "canary"), { minRequests: 100 });
    expect(slowVerdict.verdict).toBe("rollback");
    expect(slowVerdict.reasons.join()).toMatch(/read p95 .* > 350 ms/);

    // 1 error in 311 requests is 0.32 %, over the 0.1 % budget.
    const failing = delta(before, parseMetrics(both(scrape("stable", 900, 0.02), scrape("canary", 300, 0.02, 1))));
    const failVerdict = decide(figures(failing, "stable"), figures(failing, "canary"), { minRequests: 100 });
    expect(failVerdict.verdict).toBe("rollback");
    expect(failVerdict.reasons.join()).toMatch(/error rate/);
    expect(SLO.maxErrorRate).toBe(0.001);
  });

  it("counts only the window: what the counters held before is subtracted", () => {
    // A thousand slow reads before the window, two hundred fast ones in it.
    const merged = render(
      observe(emptyState(), [
        { name: METRICS.httpRequests.name, labels: { op: "graphql_query", status: "200" }, value: 1200 },
        { name: METRICS.graphqlDuration.name, labels: { op: "graphql_query" }, value: 0.9, count: 1000 },
        { name: METRICS.graphqlDuration.name, labels: { op: "graphql_query" }, value: 0.01, count: 200 },
      ]),
    );
    const start = parseMetrics(
      render(
        observe(emptyState(), [
          { name: METRICS.httpRequests.name, labels: { op: "graphql_query", status: "200" }, value: 1000 },
          { name: METRICS.graphqlDuration.name, labels: { op: "graphql_query" }, value: 0.9, count: 1000 },
        ]),
      ),
    );
    const f = figures(delta(start, parseMetrics(merged)), null);
    expect(f.requests).toBe(200);
    expect(f.read).toMatchObject({ count: 200, withinSlo: 1 });
    expect(decide(f, f, { minRequests: 201 }).verdict).toBe("inconclusive");
  });
});

describe("version label", () => {
  it("labels request metrics with the Worker's version when it has version metadata, and not otherwise", async () => {
    const seen: Observation[][] = [];
    const metrics = fakeNamespace(() => ({
      observe: async (o: Observation[]) => {
        seen.push(o);
      },
      snapshot: async () => emptyState(),
    }));
    const env = (extra: Record<string, unknown>) =>
      workerEnv({ ENVIRONMENT: "test", LOG_LEVEL: "error", METRICS: metrics, ...extra });
    await app.request("/healthz", {}, env({ CF_VERSION_METADATA: { id: "v-canary", tag: "", timestamp: "" } }));
    await new Promise((r) => setTimeout(r, METRICS_FLUSH_MS * 2 + 50));
    const labelled = seen.flat().filter((o) => o.name === METRICS.httpRequests.name);
    expect(labelled.map((o) => o.labels)).toContainEqual({ op: "healthz", status: "200", version: "v-canary" });
    seen.length = 0;
    await app.request("/healthz", {}, env({}));
    await new Promise((r) => setTimeout(r, METRICS_FLUSH_MS * 2 + 50));
    const plain = seen.flat().filter((o) => o.name === METRICS.httpRequests.name);
    expect(plain.map((o) => o.labels)).toEqual([{ op: "healthz", status: "200" }]);
  });
});
