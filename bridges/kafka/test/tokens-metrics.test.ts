import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Metrics } from "../src/metrics.ts";
import { tokenSource } from "../src/tokens.ts";

describe("tokenSource", () => {
  it("uses the file's token for its tenants, INGEST_TOKEN for the rest, and follows edits", () => {
    const file = join(mkdtempSync(join(tmpdir(), "bridge-tokens-")), "tokens.json");
    writeFileSync(file, JSON.stringify({ a: "token-a" }));
    let now = 0;
    const source = tokenSource({ token: "fallback", file, now: () => now });
    expect(source.forTenant("a")).toBe("token-a");
    expect(source.forTenant("b")).toBe("fallback");
    writeFileSync(file, JSON.stringify({ a: "token-a2", b: "token-b" }));
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    now += 1500;
    expect(source.forTenant("a")).toBe("token-a2");
    expect(source.forTenant("b")).toBe("token-b");
  });

  it("keeps the last good tokens when the file breaks, without quoting it", () => {
    const file = join(mkdtempSync(join(tmpdir(), "bridge-tokens-")), "tokens.json");
    writeFileSync(file, JSON.stringify({ a: "token-a" }));
    const errors: string[] = [];
    let now = 0;
    const source = tokenSource({ file, now: () => now, onError: (m) => errors.push(m) });
    writeFileSync(file, '{"a": "eyJsecret');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    now += 1500;
    expect(source.forTenant("a")).toBe("token-a");
    expect(source.forTenant("c")).toBeNull();
    expect(errors).toEqual(["INGEST_TOKENS_FILE is not valid JSON"]);
  });
});

describe("Metrics", () => {
  it("renders counters, gauges and the duration histogram in the text format", () => {
    const m = new Metrics();
    m.inc("kafka_bridge_messages_received_total", {}, 3);
    m.inc("kafka_bridge_dead_letters_total", { code: "MALFORMED_JSON" });
    m.set("kafka_bridge_consumer_lag", { partition: "0" }, 12);
    m.observe("kafka_bridge_ingest_request_duration_seconds", {}, 0.02);
    const text = m.render();
    expect(text).toContain(
      "# TYPE kafka_bridge_messages_received_total counter\nkafka_bridge_messages_received_total 3\n",
    );
    expect(text).toContain('kafka_bridge_dead_letters_total{code="MALFORMED_JSON"} 1\n');
    expect(text).toContain('kafka_bridge_consumer_lag{partition="0"} 12\n');
    expect(text).toContain('kafka_bridge_ingest_request_duration_seconds_bucket{le="0.01"} 0\n');
    expect(text).toContain('kafka_bridge_ingest_request_duration_seconds_bucket{le="0.025"} 1\n');
    expect(text).toContain('kafka_bridge_ingest_request_duration_seconds_bucket{le="+Inf"} 1\n');
    expect(text).toContain("kafka_bridge_ingest_request_duration_seconds_count 1\n");
    expect(text).toContain("kafka_bridge_paused 0\n");
  });
});
