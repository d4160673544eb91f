import { describe, expect, it } from "vitest";
import { emptyState, METRICS, merge, observe, render, seriesKey } from "../../src/metrics/model";

describe("metrics model", () => {
  it("counts, buckets and merges observations, and renders the Prometheus text format", () => {
    const a = observe(emptyState(), [
      { name: METRICS.graphqlDuration.name, labels: { op: "graphql_query" }, value: 0.004 },
      { name: METRICS.graphqlDuration.name, labels: { op: "graphql_query" }, value: 0.3 },
      { name: METRICS.graphqlRequests.name, labels: { status: "200" }, value: 1 },
      { name: METRICS.ingestProcessed.name, value: 10 },
      { name: METRICS.ingestDuplicates.name, value: 2 },
    ]);
    const b = observe(emptyState(), [
      { name: METRICS.graphqlDuration.name, labels: { op: "graphql_query" }, value: 20 },
      { name: METRICS.graphqlRequests.name, labels: { status: "200" }, value: 1 },
      { name: METRICS.fanoutLatency.name, value: 12, count: 3 },
      { name: METRICS.ingestProcessed.name, value: 5 },
      { name: METRICS.ingestDuplicates.name, value: 3 },
    ]);
    const text = render(merge(a, b));
    const line = (prefix: string) => text.split("\n").find((l) => l.startsWith(prefix));
    expect(line('graphql_request_duration_seconds_bucket{op="graphql_query",le="0.005"}')).toMatch(/ 1$/);
    expect(line('graphql_request_duration_seconds_bucket{op="graphql_query",le="0.25"}')).toMatch(/ 1$/);
    expect(line('graphql_request_duration_seconds_bucket{op="graphql_query",le="0.35"}')).toMatch(/ 2$/);
    expect(line('graphql_request_duration_seconds_bucket{op="graphql_query",le="10"}')).toMatch(/ 2$/);
    expect(line('graphql_request_duration_seconds_bucket{op="graphql_query",le="+Inf"}')).toMatch(/ 3$/);
    expect(line('graphql_request_duration_seconds_count{op="graphql_query"}')).toMatch(/ 3$/);
    expect(line('graphql_request_duration_seconds_sum{op="graphql_query"}')).toBe(
      'graphql_request_duration_seconds_sum{op="graphql_query"} 20.304',
    );
    expect(line('graphql_requests_total{status="200"}')).toBe('graphql_requests_total{status="200"} 2');
    expect(line('subscription_fanout_latency_ms_bucket{le="10"}')).toBe(
      'subscription_fanout_latency_ms_bucket{le="10"} 0',
    );
    expect(line('subscription_fanout_latency_ms_bucket{le="25"}')).toBe(
      'subscription_fanout_latency_ms_bucket{le="25"} 3',
    );
    expect(line("ingest_events_processed_total ")).toBe("ingest_events_processed_total 15");
    expect(line("ingest_dedupe_rate ")).toBe("ingest_dedupe_rate 0.333333333333");
    expect(text).toContain("# TYPE graphql_request_duration_seconds histogram");
    expect(text).toContain("# TYPE ingest_dedupe_rate gauge");
  });

  it("drops unknown metrics, negative counter increments and non-finite values", () => {
    const s = observe(emptyState(), [
      { name: "nope" as never, value: 1 },
      { name: METRICS.ingestProcessed.name, value: -1 },
      { name: METRICS.ingestProcessed.name, value: Number.NaN },
      { name: METRICS.fanoutLatency.name, value: 5, count: 0 },
    ]);
    expect(s).toEqual(emptyState());
    expect(render(s)).toContain("ingest_events_processed_total 0\n");
  });

  it("escapes label values", () => {
    expect(seriesKey("x", { b: 'a"b\\c\nd', a: "1" })).toBe('x{a="1",b="a\\"b\\\\c\\nd"}');
  });
});
