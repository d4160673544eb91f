import { type Pinning, pinnedStub } from "../residency";
import { emptyState, type MetricState, merge, type Observation } from "./model";

/** Aggregator shards: observations spread over them, `/metrics` merges them. */
export const METRICS_SHARDS = 8;
/** A buffer is sent at most this long after the first observation added to it. */
export const METRICS_FLUSH_MS = 250;
/** A buffer this full is sent at once by the request that filled it. */
const MAX_BUFFER = 500;
/** A send claimed this long ago and not yet done is presumed lost (its request was cancelled): others may claim. */
const CLAIM_EXPIRES_MS = 10 * METRICS_FLUSH_MS;

type Namespace = Env["METRICS"];

const shard = (ns: Namespace, pinning: Pinning, i: number) => pinnedStub(ns, pinning, `metrics-${i}`);

/**
 * Observations waiting to be sent to the aggregator shards, batched so many requests share one aggregator call.
 *
 * workerd cancels a request that awaits (or hands to its `waitUntil`) a promise or timer created while serving
 * another request ("the Worker's code had hung"). So the buffer holds plain data only, and every send is a
 * promise created by the request that returns it: {@link claimSend} gives the first request of a window a
 * promise (its own timer, then the send of everything buffered by then) to put in *its* `waitUntil`; the other
 * requests of that window only add data. Observations still buffered when an isolate is killed in that short
 * window are lost: metrics are estimates for alerting, not billing (FinOps counts are exact, in the tenant objects).
 */
export class MetricsBuffer {
  private buffer: Observation[] = [];
  /** When a request took on sending the current buffer (`null`: nobody has). */
  private claimedAt: number | null = null;

  constructor(
    private readonly ns: Namespace,
    private readonly pinning: Pinning,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Number of observations waiting (tests). */
  get size(): number {
    return this.buffer.length;
  }

  add(observations: readonly Observation[]): void {
    for (const o of observations) this.buffer.push(o);
  }

  /**
   * Adds observations and, when this caller claims the next send, hands it to `keepAlive` (the caller's own
   * `waitUntil`). What a request, or an object, does with its observations.
   */
  record(observations: readonly Observation[], keepAlive: (send: Promise<void>) => void): void {
    this.add(observations);
    const send = this.claimSend();
    if (send) keepAlive(send);
  }

  /**
   * A promise the caller must keep alive with its own `waitUntil`, or `null` when another request has already
   * claimed the next send. The timer and the aggregator call are created here, inside the caller's request.
   */
  claimSend(): Promise<void> | null {
    if (this.buffer.length === 0) return null;
    if (this.buffer.length >= MAX_BUFFER) return this.send();
    const now = this.now();
    if (this.claimedAt !== null && now - this.claimedAt < CLAIM_EXPIRES_MS) return null;
    this.claimedAt = now;
    return new Promise<void>((ok) => setTimeout(ok, METRICS_FLUSH_MS)).then(() => this.send());
  }

  /** Sends everything buffered now (takes the buffer synchronously; the aggregator call is the caller's). */
  send(): Promise<void> {
    this.claimedAt = null;
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length === 0) return Promise.resolve();
    return shard(this.ns, this.pinning, Math.floor(Math.random() * METRICS_SHARDS))
      .observe(batch)
      .catch(() => {
        // The aggregator is unreachable: drop the batch rather than grow without bound.
      });
  }
}

const buffers = new WeakMap<Namespace, MetricsBuffer>();

/**
 * The Worker isolate's buffer for a namespace binding. Durable Objects keep their own instance (a field of the
 * object), so a request of the Worker never sends what an object buffered, or the reverse.
 */
export function metricsBuffer(ns: Namespace, pinning: Pinning): MetricsBuffer {
  let b = buffers.get(ns);
  if (!b) {
    b = new MetricsBuffer(ns, pinning);
    buffers.set(ns, b);
  }
  return b;
}

/** Every shard's series, merged. */
export async function gatherMetrics(ns: Namespace, pinning: Pinning): Promise<MetricState> {
  const parts = await Promise.all(Array.from({ length: METRICS_SHARDS }, (_, i) => shard(ns, pinning, i).snapshot()));
  return parts.reduce((acc, p) => merge(acc, p as MetricState), emptyState());
}
