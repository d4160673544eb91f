import { emptyState, type MetricState, merge, type Observation } from "./model";

/** Aggregator shards: observations spread over them, `/metrics` merges them. */
export const METRICS_SHARDS = 8;
/** An isolate sends its buffered observations at most this long after the first of them. */
export const METRICS_FLUSH_MS = 250;
const MAX_BUFFER = 500;

type Namespace = Env["METRICS"];

const shard = (ns: Namespace, i: number) => ns.get(ns.idFromName(`metrics-${i}`));

/**
 * A per-isolate buffer of observations. Each request adds its own and hands `flushSoon()` to `waitUntil`, so
 * sending never delays an answer; requests within `METRICS_FLUSH_MS` share one batch (one aggregator call for
 * many requests). Observations buffered when an isolate is killed in that short window are lost: metrics
 * are estimates for alerting, not billing (FinOps counts are exact and kept in the tenant objects).
 */
export class MetricsBuffer {
  private buffer: Observation[] = [];
  private pending: Promise<void> | null = null;

  constructor(private readonly ns: Namespace) {}

  add(observations: readonly Observation[]): void {
    for (const o of observations) this.buffer.push(o);
  }

  /** Resolves once the buffer holding this request's observations has been sent. */
  flushSoon(): Promise<void> {
    if (this.buffer.length >= MAX_BUFFER) return this.send();
    this.pending ??= new Promise<void>((ok) => setTimeout(ok, METRICS_FLUSH_MS)).then(() => this.send());
    return this.pending;
  }

  private async send(): Promise<void> {
    this.pending = null;
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length === 0) return;
    try {
      await shard(this.ns, Math.floor(Math.random() * METRICS_SHARDS)).observe(batch);
    } catch {
      // The aggregator is unreachable: drop the batch rather than grow without bound.
    }
  }
}

const buffers = new WeakMap<Namespace, MetricsBuffer>();

/** The isolate's buffer for a namespace binding. */
export function metricsBuffer(ns: Namespace): MetricsBuffer {
  let b = buffers.get(ns);
  if (!b) {
    b = new MetricsBuffer(ns);
    buffers.set(ns, b);
  }
  return b;
}

/** Every shard's series, merged. */
export async function gatherMetrics(ns: Namespace): Promise<MetricState> {
  const parts = await Promise.all(Array.from({ length: METRICS_SHARDS }, (_, i) => shard(ns, i).snapshot()));
  return parts.reduce((acc, p) => merge(acc, p as MetricState), emptyState());
}
