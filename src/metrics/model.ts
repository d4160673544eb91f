/**
 * The service's Prometheus metrics (docs/api.md §4.7): definitions, observations, merging and the text format. Pure.
 *
 * Observations are made where the work happens (the Worker for HTTP and GraphQL, tenant objects for fan-out),
 * batched, and added into sharded aggregator objects (durable-objects/metrics.ts); `/metrics` merges the shards.
 * No metric carries a tenant label: series count does not grow with tenants.
 */

export type MetricKind = "counter" | "histogram";

export interface MetricDef {
  name: string;
  kind: MetricKind;
  help: string;
  /** Upper bounds of a histogram's buckets (`+Inf` is implicit). */
  buckets?: readonly number[];
}

/** Every metric, in exposition order. */
export const METRICS = {
  graphqlDuration: {
    name: "graphql_request_duration_seconds",
    kind: "histogram",
    help: "Time to answer POST/GET /graphql, by operation (graphql_query, graphql_mutation, finops_usage, graphql when unresolved).",
    // Includes the SLO thresholds: reads p95 <= 0.35 s, writes p95 <= 0.7 s.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.35, 0.5, 0.7, 1, 2.5, 5, 10],
  },
  graphqlRequests: {
    name: "graphql_requests_total",
    kind: "counter",
    help: "Answers of /graphql by HTTP status.",
  },
  httpRequests: {
    name: "http_requests_total",
    kind: "counter",
    help: "Answers of every route by operation and HTTP status.",
  },
  fanoutLatency: {
    name: "subscription_fanout_latency_ms",
    kind: "histogram",
    help: "From a signal's acceptance to its coherenceEvents frame leaving the tenant's object, per delivered frame.",
    buckets: [5, 10, 25, 50, 100, 150, 250, 500, 1000, 2500, 5000],
  },
  ingestProcessed: {
    name: "ingest_events_processed_total",
    kind: "counter",
    help: "Signals in accepted ingest requests and mutations (new and duplicate).",
  },
  ingestDuplicates: {
    name: "ingest_events_duplicate_total",
    kind: "counter",
    help: "Signals that were duplicates of stored ones (dedupe key).",
  },
  sinkSent: {
    name: "sink_queue_messages_sent_total",
    kind: "counter",
    help: "Messages the tenants' outboxes handed to the sink queue.",
  },
  sinkMessages: {
    name: "sink_queue_messages_total",
    kind: "counter",
    help: "Sink queue messages settled by the consumer, by outcome (acked, retried, dead_lettered, parked).",
  },
  sinkWrites: {
    name: "sink_writes_total",
    kind: "counter",
    help: "Writes of one tenant's share of a batch to a store, by store (neo4j, postgres), outcome and error code.",
  },
  sinkLag: {
    name: "sink_lag_seconds",
    kind: "histogram",
    help: "From a signal's acceptance to its write in a store (neo4j, postgres), per signal.",
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
  },
  budgetAlerts: {
    name: "finops_budget_alerts_total",
    kind: "counter",
    help: "FinOps budget alerts raised (once per tenant or for the environment, period and threshold), by scope (tenant, environment), period and threshold.",
  },
} as const satisfies Record<string, MetricDef>;

export type MetricName = (typeof METRICS)[keyof typeof METRICS]["name"];

/** One observation: a counter increment or a histogram sample. */
export interface Observation {
  name: MetricName;
  labels?: Record<string, string>;
  value: number;
  /** Histograms: this many samples of `value` (default 1), so identical samples travel as one. */
  count?: number;
}

/** Aggregated series, keyed by `name{labels}`. */
export interface MetricState {
  counters: Record<string, number>;
  histograms: Record<string, { buckets: number[]; sum: number; count: number }>;
}

export const emptyState = (): MetricState => ({ counters: {}, histograms: {} });

const UNLABELLED: ReadonlySet<string> = new Set([METRICS.ingestProcessed.name, METRICS.ingestDuplicates.name]);

/**
 * Labelled counters exposed at 0 before their first increment, so that a rule on `increase()` sees the first one
 * (a series that appears at 1 has no increase to Prometheus). The budget alerts fire rarely and must not be missed.
 */
const ZERO_SERIES: ReadonlyMap<string, ReadonlyArray<Record<string, string>>> = new Map([
  [
    METRICS.budgetAlerts.name,
    ["tenant", "environment"].flatMap((scope) =>
      ["day", "month"].flatMap((period) => ["warning", "critical"].map((threshold) => ({ scope, period, threshold }))),
    ),
  ],
]);

const DEFS: ReadonlyMap<string, MetricDef> = new Map(Object.values(METRICS).map((d) => [d.name, d]));

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** The series key of a name and labels (labels sorted): also its exposition form. */
export function seriesKey(name: string, labels: Record<string, string> = {}): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k] ?? "")}"`);
  return parts.length === 0 ? name : `${name}{${parts.join(",")}}`;
}

/** Adds observations into a state (mutates and returns it). Unknown metrics and non-finite values are dropped. */
export function observe(state: MetricState, observations: readonly Observation[]): MetricState {
  for (const o of observations) {
    const def = DEFS.get(o.name);
    if (!def || !Number.isFinite(o.value)) continue;
    const key = seriesKey(o.name, o.labels);
    if (def.kind === "counter") {
      if (o.value < 0) continue;
      state.counters[key] = (state.counters[key] ?? 0) + o.value;
      continue;
    }
    const n = o.count ?? 1;
    if (!Number.isInteger(n) || n < 1) continue;
    const bounds = def.buckets ?? [];
    let h = state.histograms[key];
    if (!h) {
      h = { buckets: bounds.map(() => 0), sum: 0, count: 0 };
      state.histograms[key] = h;
    }
    // Non-cumulative per bucket here; cumulated when rendered.
    const i = bounds.findIndex((b) => o.value <= b);
    if (i >= 0) h.buckets[i] = (h.buckets[i] ?? 0) + n;
    h.sum += o.value * n;
    h.count += n;
  }
  return state;
}

/** Adds `from` into `into` (mutates and returns `into`). */
export function merge(into: MetricState, from: MetricState): MetricState {
  for (const [k, v] of Object.entries(from.counters)) into.counters[k] = (into.counters[k] ?? 0) + v;
  for (const [k, h] of Object.entries(from.histograms)) {
    const t = into.histograms[k];
    if (!t) {
      into.histograms[k] = { buckets: [...h.buckets], sum: h.sum, count: h.count };
      continue;
    }
    h.buckets.forEach((n, i) => {
      t.buckets[i] = (t.buckets[i] ?? 0) + n;
    });
    t.sum += h.sum;
    t.count += h.count;
  }
  return into;
}

function nameOf(key: string): string {
  const brace = key.indexOf("{");
  return brace === -1 ? key : key.slice(0, brace);
}

function withLabel(key: string, label: string): string {
  const brace = key.indexOf("{");
  if (brace === -1) return `${key}{${label}}`;
  return `${key.slice(0, -1)},${label}}`;
}

function num(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(12)));
}

/** A value read when `/metrics` is scraped (not accumulated from observations). */
export interface Gauge {
  name: string;
  help: string;
  value: number;
}

/**
 * Prometheus text exposition format 0.0.4, with `ingest_dedupe_rate` derived from the two ingest counters and the
 * `gauges` read at scrape time.
 */
export function render(state: MetricState, gauges: readonly Gauge[] = []): string {
  const lines: string[] = [];
  for (const def of Object.values(METRICS) as MetricDef[]) {
    lines.push(`# HELP ${def.name} ${def.help}`, `# TYPE ${def.name} ${def.kind}`);
    if (def.kind === "counter") {
      const keys = Object.keys(state.counters).filter((k) => nameOf(k) === def.name);
      for (const labels of ZERO_SERIES.get(def.name) ?? []) {
        const key = seriesKey(def.name, labels);
        if (!keys.includes(key)) keys.push(key);
      }
      // Unlabelled counters always have their one series; labelled ones appear with their first observation.
      if (keys.length === 0 && UNLABELLED.has(def.name)) lines.push(`${def.name} 0`);
      for (const k of keys.sort()) lines.push(`${k} ${num(state.counters[k] ?? 0)}`);
      continue;
    }
    const bounds = def.buckets ?? [];
    for (const k of Object.keys(state.histograms)
      .filter((key) => nameOf(key) === def.name)
      .sort()) {
      const h = state.histograms[k];
      if (!h) continue;
      const labels = k.slice(def.name.length);
      const base = `${def.name}_bucket${labels}`;
      let cumulative = 0;
      bounds.forEach((b, i) => {
        cumulative += h.buckets[i] ?? 0;
        lines.push(`${withLabel(base, `le="${b}"`)} ${cumulative}`);
      });
      lines.push(`${withLabel(base, 'le="+Inf"')} ${h.count}`);
      lines.push(`${def.name}_sum${labels} ${num(h.sum)}`, `${def.name}_count${labels} ${h.count}`);
    }
  }
  const processed = state.counters[METRICS.ingestProcessed.name] ?? 0;
  const duplicates = state.counters[METRICS.ingestDuplicates.name] ?? 0;
  lines.push(
    "# HELP ingest_dedupe_rate Share of processed signals that were duplicates, since the counters started.",
    "# TYPE ingest_dedupe_rate gauge",
    `ingest_dedupe_rate ${processed === 0 ? 0 : num(duplicates / processed)}`,
  );
  for (const g of gauges)
    lines.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`, `${g.name} ${num(g.value)}`);
  return `${lines.join("\n")}\n`;
}
