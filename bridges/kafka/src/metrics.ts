// The bridge's Prometheus metrics: a small registry of counters, gauges and one histogram, rendered in the text
// exposition format. Like the Worker's (docs/api.md §5.3), no series carries a tenant label, so the series count does not
// grow with tenants. Pure apart from holding state.

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
}

const key = (labels: Labels): string =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .join(",");

const fmt = (v: number): string => (Number.isFinite(v) ? String(v) : v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN");

/** Seconds buckets for request durations (the service answers a 1000-signal batch in tens of ms locally). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Families without labels: shown as 0 before their first change, so a scrape always has them. */
const UNLABELLED: ReadonlySet<string> = new Set([
  "kafka_bridge_messages_received_total",
  "kafka_bridge_inflight_messages",
  "kafka_bridge_paused",
  "kafka_bridge_pauses_total",
  "kafka_bridge_rebalances_total",
]);

export class Metrics {
  readonly #families = new Map<string, Family>();
  readonly #values = new Map<string, Map<string, number>>();
  readonly #histograms = new Map<string, Map<string, { buckets: number[]; sum: number; count: number }>>();

  constructor() {
    this.#define("kafka_bridge_messages_received_total", "counter", "Kafka records read from the topic.");
    this.#define(
      "kafka_bridge_signals_forwarded_total",
      "counter",
      "Signals the service acknowledged (2xx), by its status for each: accepted or duplicate.",
    );
    this.#define(
      "kafka_bridge_dead_letters_total",
      "counter",
      "Records written to the dead-letter topic, by x-error-code.",
    );
    this.#define("kafka_bridge_ingest_requests_total", "counter", "Ingest requests by HTTP status (0: no answer).");
    this.#define(
      "kafka_bridge_ingest_request_duration_seconds",
      "histogram",
      "Time from sending an ingest request to its answer.",
    );
    this.#define(
      "kafka_bridge_ingest_retries_total",
      "counter",
      "Ingest requests that will be retried, by error code (RATE_LIMITED, NETWORK_ERROR, HTTP_5xx …).",
    );
    this.#define("kafka_bridge_inflight_messages", "gauge", "Records read and not yet acknowledged or dead-lettered.");
    this.#define("kafka_bridge_paused", "gauge", "1 while fetching is paused because too much work is in flight.");
    this.#define("kafka_bridge_pauses_total", "counter", "Times fetching was paused for backpressure.");
    this.#define("kafka_bridge_committed_offset", "gauge", "Last offset committed by this bridge, by partition.");
    this.#define("kafka_bridge_commits_total", "counter", "Offset commits, by result (ok, error).");
    this.#define(
      "kafka_bridge_consumer_lag",
      "gauge",
      "Records between the committed offset and the end of the partition, by partition.",
    );
    this.#define("kafka_bridge_rebalances_total", "counter", "Consumer group (re)joins.");
  }

  #define(name: string, type: Family["type"], help: string): void {
    this.#families.set(name, { name, type, help });
  }

  /** Adds `by` to a counter (or gauge). */
  inc(name: string, labels: Labels = {}, by = 1): void {
    const series = this.#values.get(name) ?? new Map<string, number>();
    this.#values.set(name, series);
    const k = key(labels);
    series.set(k, (series.get(k) ?? 0) + by);
  }

  set(name: string, labels: Labels, value: number): void {
    const series = this.#values.get(name) ?? new Map<string, number>();
    this.#values.set(name, series);
    series.set(key(labels), value);
  }

  /** Drops every series of a gauge (e.g. the lag of partitions no longer assigned). */
  clear(name: string): void {
    this.#values.delete(name);
  }

  observe(name: string, labels: Labels, value: number): void {
    const series = this.#histograms.get(name) ?? new Map();
    this.#histograms.set(name, series);
    const k = key(labels);
    let h = series.get(k);
    if (!h) {
      h = { buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 };
      series.set(k, h);
    }
    DURATION_BUCKETS.forEach((le, i) => {
      if (value <= le && h) h.buckets[i] = (h.buckets[i] ?? 0) + 1;
    });
    h.sum += value;
    h.count++;
  }

  /** One value (tests and shutdown summaries); 0 when never set. */
  value(name: string, labels: Labels = {}): number {
    return this.#values.get(name)?.get(key(labels)) ?? 0;
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const out: string[] = [];
    for (const family of this.#families.values()) {
      out.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
      if (family.type === "histogram") {
        for (const [k, h] of this.#histograms.get(family.name) ?? []) {
          const sep = k ? "," : "";
          DURATION_BUCKETS.forEach((le, i) => {
            out.push(`${family.name}_bucket{${k}${sep}le="${le}"} ${h.buckets[i] ?? 0}`);
          });
          out.push(`${family.name}_bucket{${k}${sep}le="+Inf"} ${h.count}`);
          out.push(`${family.name}_sum${k ? `{${k}}` : ""} ${fmt(h.sum)}`);
          out.push(`${family.name}_count${k ? `{${k}}` : ""} ${h.count}`);
        }
        continue;
      }
      const series = this.#values.get(family.name);
      if (!series || series.size === 0) {
        if (UNLABELLED.has(family.name)) out.push(`${family.name} 0`);
        continue;
      }
      for (const [k, v] of series) out.push(`${family.name}${k ? `{${k}}` : ""} ${fmt(v)}`);
    }
    return `${out.join("\n")}\n`;
  }
}
