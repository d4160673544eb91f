// publish(): signals are queued per tenant and sent as batches (docs/api.md §4.3) when a batch is full or the oldest
// queued signal has waited `maxDelayMs`. Each batch is one request with one Idempotency-Key; a retry resends the
// same bytes under the same key, so an answer lost on the way back is replayed by the service, never applied twice.
// The queue is bounded: at `maxQueued` signals not yet settled, publish() waits for room (or refuses).
import { parseRetryAfter, retryDelay } from "./backoff.ts";
import { CoherenceError, errorFromAnswer } from "./errors.ts";
import type { RetryContext } from "./graphql.ts";
import { exchange, newIdempotencyKey, sleep } from "./http.ts";
import { readAccepted } from "./ingest-answer.ts";

export const INGEST_PATH = "/v1/coherence/signals";
/** The service refuses bodies over 1 MiB (docs/api.md §4.3). */
const MAX_BODY_BYTES = 1_048_576;

/** A signal as the ingest route takes it (docs/api.md §4.3). */
export interface Signal {
  tenantId: string;
  type: string;
  source: string;
  /** 0..1 */
  value: number;
  /** 0..1e6, default 1 */
  weight?: number;
  /** RFC 3339; stamped by the client when absent (with a fresh `signalId` too) unless `stamp: false`. */
  ts?: string;
  signalId?: string;
}

/** What the service said about one published signal. */
export interface PublishResult {
  signalId: string;
  status: "accepted" | "duplicate";
  /** The request's provenance id (one per applied batch). */
  provenanceId: string;
  /** The answer was the service's replay of an earlier attempt of the same batch (its answer had been lost). */
  replayed: boolean;
}

export interface PublisherOptions {
  /** Signals per request, 1..1000 (default 1000, the service's limit). */
  maxBatchSize: number;
  /** How long a queued signal may wait for its batch to fill, in ms (default 25). */
  maxDelayMs: number;
  /** Signals published but not yet settled, at most (default 10 000). */
  maxQueued: number;
  /** Requests in flight at once (default 4). */
  concurrency: number;
  /** At `maxQueued`: "wait" (publish() resolves its room first; default) or "reject" (QUEUE_FULL). */
  overflow: "wait" | "reject";
  /** Largest request body in bytes, 1024..1 MiB (default 1 MiB, the service's limit). */
  maxBatchBytes: number;
  /** Called after every ingest request (metrics, logs). */
  onRequest?: (info: IngestRequestInfo) => void;
  /**
   * A signal published without `ts` is an event happening now (default true): the client gives it `ts` (now) and,
   * unless it has one, a unique `signalId`. Without the id, two signals alike in type, value, weight and source
   * published in the same millisecond would be one signal to the service (its derived id, docs/api.md §5.1). A signal
   * that carries its `ts` is sent as it is, so re-publishing the same reading stays a duplicate.
   */
  stamp: boolean;
}

/** What became of one ingest request. */
export type RequestOutcome = "accepted" | "retry" | "split" | "refused";

export interface IngestRequestInfo {
  tenantId: string;
  signals: number;
  /** 1 for the first try of a batch. */
  attempt: number;
  /** HTTP status; 0 when there was no answer. */
  status: number;
  latencyMs: number;
  outcome: RequestOutcome;
  /** The error code when not accepted. */
  code: string | null;
  provenanceId: string | null;
  /** For `retry`: the wait before the next try. */
  retryInMs: number | null;
}

export const DEFAULT_PUBLISHER: PublisherOptions = {
  maxBatchSize: 1000,
  maxDelayMs: 25,
  maxQueued: 10_000,
  concurrency: 4,
  maxBatchBytes: MAX_BODY_BYTES,
  overflow: "wait",
  stamp: true,
};

interface Pending {
  json: string;
  bytes: number;
  resolve: (r: PublishResult) => void;
  reject: (e: CoherenceError) => void;
}

const encoder = new TextEncoder();
const READY: Promise<void> = Promise.resolve();
const ENVELOPE_BYTES = '{"signals":[]}'.length;
const NON_ASCII = /[\u0080-\uffff]/;

/** UTF-8 length of `text`; without encoding it when it is ASCII (nearly every signal), which is the hot path. */
function utf8Length(text: string): number {
  return NON_ASCII.test(text) ? encoder.encode(text).length : text.length;
}

export class Publisher {
  private readonly queues = new Map<string, Pending[]>();
  /** Signals accepted into the client and not yet settled (queued or in flight). */
  private unsettled = 0;
  private inflight = 0;
  private due = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** publish() calls waiting for room, first come first served; `true` hands them a settled signal's slot. */
  private readonly roomWaiters: Array<(granted: boolean) => void> = [];
  private readonly idleWaiters: Array<() => void> = [];
  /** room() calls waiting for the queue to drop below its bound. */
  private readonly roomWatchers: Array<() => void> = [];
  private closed = false;
  private readonly abort = new AbortController();
  private readonly counters = { requests: 0, retries: 0, batches: 0 };

  private readonly ctx: RetryContext;
  private readonly opts: PublisherOptions;

  constructor(ctx: RetryContext, opts: PublisherOptions) {
    if (!(opts.maxBatchSize >= 1 && opts.maxBatchSize <= 1000)) throw new RangeError("maxBatchSize must be 1..1000");
    if (!(opts.maxQueued >= 1)) throw new RangeError("maxQueued must be at least 1");
    if (!(opts.concurrency >= 1)) throw new RangeError("concurrency must be at least 1");
    if (!(opts.maxBatchBytes >= 1024 && opts.maxBatchBytes <= MAX_BODY_BYTES)) {
      throw new RangeError(`maxBatchBytes must be 1024..${MAX_BODY_BYTES}`);
    }
    this.ctx = ctx;
    this.opts = opts;
  }

  /** Queued or in flight; requests sent, retries, batches delivered. */
  stats(): { unsettled: number; inflight: number; requests: number; retries: number; batches: number } {
    return { unsettled: this.unsettled, inflight: this.inflight, ...this.counters };
  }

  /** Not `async`: the common case (room in the queue) costs one promise per signal, the hot path of a producer. */
  publishOne(signal: Signal): Promise<PublishResult> {
    if (this.closed) return Promise.reject(new CoherenceError("CLIENT_CLOSED", "publish() after close()"));
    const stamped =
      this.opts.stamp && signal.ts === undefined
        ? { signalId: `c-${newIdempotencyKey()}`, ...signal, ts: new Date().toISOString() }
        : signal;
    const json = JSON.stringify(stamped);
    const bytes = utf8Length(json);
    if (bytes + ENVELOPE_BYTES > this.opts.maxBatchBytes) {
      return Promise.reject(
        new CoherenceError("SIGNAL_TOO_LARGE", `a signal of ${bytes} bytes cannot fit in a request (1 MiB)`),
      );
    }
    if (this.unsettled < this.opts.maxQueued && this.roomWaiters.length === 0) {
      this.unsettled++;
      return this.enqueue(signal.tenantId, json, bytes);
    }
    if (this.opts.overflow === "reject") {
      return Promise.reject(
        new CoherenceError("QUEUE_FULL", `${this.unsettled} signals are waiting for the service`, { retryable: true }),
      );
    }
    // The slot of a signal that settles is handed to the longest waiter, so later callers cannot overtake it.
    return new Promise<boolean>((wake) => this.roomWaiters.push(wake)).then((granted) => {
      if (!granted) throw new CoherenceError("CLIENT_CLOSED", "the client was closed while publish() waited");
      return this.enqueue(signal.tenantId, json, bytes);
    });
  }

  /** Queues a signal that already holds a slot of the queue. */
  private enqueue(tenantId: string, json: string, bytes: number): Promise<PublishResult> {
    return new Promise<PublishResult>((resolve, reject) => {
      const queue = this.queues.get(tenantId) ?? [];
      if (queue.length === 0) this.queues.set(tenantId, queue);
      queue.push({ json, bytes, resolve, reject });
      if (queue.length >= this.opts.maxBatchSize) this.pump();
      else this.arm();
    });
  }

  /** A signal is settled: its slot goes to the longest waiting publish(), else back to the queue. */
  private settled(): void {
    const next = this.roomWaiters.shift();
    if (next) {
      next(true);
      return;
    }
    this.unsettled--;
    if (this.roomWatchers.length > 0) for (const wake of this.roomWatchers.splice(0)) wake();
    if (this.unsettled === 0 && this.idleWaiters.length > 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private resolveItem(item: Pending, result: PublishResult): void {
    item.resolve(result);
    this.settled();
  }

  private rejectItem(item: Pending, error: CoherenceError): void {
    item.reject(error);
    this.settled();
  }

  /**
   * Resolves when the queue has room for another signal (at once when it has). A producer that does not await each
   * publish() awaits this before publishing, so it is held back while the service is slow instead of piling up calls.
   */
  room(): Promise<void> {
    if (this.closed || (this.unsettled < this.opts.maxQueued && this.roomWaiters.length === 0)) return READY;
    return new Promise((wake) => this.roomWatchers.push(wake));
  }

  /** Sends everything queued now and resolves when every signal published so far is settled. */
  async flush(): Promise<void> {
    if (this.unsettled === 0) return;
    const idle = new Promise<void>((wake) => this.idleWaiters.push(wake));
    this.due = true;
    this.pump();
    await idle;
  }

  /** Refuses further publish() calls, sends what is queued and waits until it is settled. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    for (const wake of this.roomWaiters.splice(0)) wake(false);
    for (const wake of this.roomWatchers.splice(0)) wake();
  }

  private arm(): void {
    if (this.timer !== null || this.due) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.due = true;
      this.pump();
    }, this.opts.maxDelayMs);
  }

  /** Starts batches while there is a free slot and a batch that is full or due. */
  private pump(): void {
    while (this.inflight < this.opts.concurrency) {
      const next = this.nextBatch();
      if (!next) break;
      this.inflight++;
      void this.deliver(next.tenantId, next.items).finally(() => {
        this.inflight--;
        this.pump();
      });
    }
    let waiting = false;
    for (const q of this.queues.values()) if (q.length > 0) waiting = true;
    if (!waiting) this.due = false;
    else if (!this.due) this.arm();
  }

  private nextBatch(): { tenantId: string; items: Pending[] } | null {
    let pick: [string, Pending[]] | null = null;
    for (const entry of this.queues) {
      const q = entry[1];
      if (q.length >= this.opts.maxBatchSize) {
        pick = entry;
        break;
      }
      if (this.due && q.length > 0 && pick === null) pick = entry;
    }
    if (!pick) return null;
    const [tenantId, queue] = pick;
    // The request body: `{"signals":[` + the signals, comma-separated + `]}`.
    let bytes = ENVELOPE_BYTES;
    let n = 0;
    while (n < queue.length && n < this.opts.maxBatchSize) {
      const item = queue[n]!;
      if (n > 0 && bytes + item.bytes + 1 > this.opts.maxBatchBytes) break;
      bytes += item.bytes + 1;
      n++;
    }
    const items = queue.splice(0, n);
    if (queue.length === 0) this.queues.delete(tenantId);
    return { tenantId, items };
  }

  /** Sends one batch until it is settled: accepted, refused, or out of attempts. Never rejects. */
  private async deliver(tenantId: string, items: Pending[]): Promise<void> {
    const body = `{"signals":[${items.map((i) => i.json).join(",")}]}`;
    const key = newIdempotencyKey();
    let refreshed = false;
    let refreshToken = false;
    for (let attempt = 1; ; attempt++) {
      if (this.aborted) return this.rejectAll(items, this.abortError(attempt - 1));
      let error: CoherenceError;
      let retryAfter: number | null = null;
      let status = 0;
      const started = Date.now();
      const report = (outcome: RequestOutcome, extra: Partial<IngestRequestInfo> = {}) =>
        this.opts.onRequest?.({
          tenantId,
          signals: items.length,
          attempt,
          status,
          latencyMs: Date.now() - started,
          outcome,
          code: null,
          provenanceId: null,
          retryInMs: null,
          ...extra,
        });
      try {
        this.counters.requests++;
        if (attempt > 1) this.counters.retries++;
        const answer = await exchange(this.ctx.transport, {
          path: INGEST_PATH,
          method: "POST",
          tenantId,
          body,
          headers: { "idempotency-key": key },
          refreshToken,
          signal: this.abort.signal,
        });
        status = answer.status;
        refreshToken = false;
        if (answer.status >= 200 && answer.status < 300) {
          const read = readAccepted(answer.body, items.length, answer.headers.get("idempotency-replayed") === "true");
          if (read === null) {
            report("refused", { code: "BAD_RESPONSE" });
            const bad = new CoherenceError("BAD_RESPONSE", "the service accepted the batch with an unreadable answer", {
              status: answer.status,
              attempts: attempt,
            });
            return this.rejectAll(items, bad);
          }
          this.counters.batches++;
          report("accepted", { provenanceId: read[0]?.provenanceId ?? null });
          items.forEach((item, i) => {
            this.resolveItem(item, read[i]!);
          });
          return;
        }
        error = errorFromAnswer(answer.status, answer.body);
        retryAfter = parseRetryAfter(answer.headers.get("retry-after"), Date.now());
        if (answer.status === 401 && this.ctx.transport.tokens.refreshable && !refreshed) {
          report("retry", { code: error.code, retryInMs: 0 });
          refreshed = true;
          refreshToken = true;
          continue;
        }
        if (answer.status === 400 || answer.status === 413) {
          const split = this.split(tenantId, items, error);
          if (split) {
            report("split", { code: error.code });
            return await split;
          }
        }
      } catch (err) {
        if (this.aborted) return this.rejectAll(items, this.abortError(attempt));
        error =
          err instanceof CoherenceError
            ? err
            : new CoherenceError("NETWORK", String(err), { retryable: true, cause: err });
      }
      if (!error.retryable || attempt >= this.ctx.retry.maxAttempts) {
        report("refused", { code: error.code });
        return this.rejectAll(items, error.withAttempts(attempt));
      }
      const delay = retryDelay(attempt - 1, retryAfter, this.ctx.retry, this.ctx.random);
      report("retry", { code: error.code, retryInMs: delay });
      await sleep(delay, this.abort.signal);
    }
  }

  private rejectAll(items: Pending[], error: CoherenceError): void {
    for (const item of items) this.rejectItem(item, error);
  }

  private get aborted(): boolean {
    return this.abort.signal.aborted;
  }

  private abortError(attempts: number): CoherenceError {
    return new CoherenceError("ABORTED", "the client was aborted before the service accepted the signal", {
      attempts,
    });
  }

  /**
   * Gives up on everything not yet accepted: queued signals and batches in flight or waiting to retry reject with
   * `ABORTED` (what a batch in flight did at the service is unknown; its Idempotency-Key is not reused). Later
   * publish() calls reject with `CLIENT_CLOSED`.
   */
  abortAll(): void {
    this.closed = true;
    this.abort.abort();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const wake of this.roomWaiters.splice(0)) wake(false);
    for (const wake of this.roomWatchers.splice(0)) wake();
    for (const [tenantId, queue] of this.queues) {
      this.queues.delete(tenantId);
      this.rejectAll(queue, this.abortError(0));
    }
  }

  /**
   * A refused batch whose fault lies with some of its signals (the service is all-or-nothing, §4.3): the signals the
   * answer names (`details[].index`) are refused, the others sent again as a new batch. A batch refused as a whole
   * (413, or a 400 naming no signal) is halved until the culprit is alone. Null: nothing to split.
   */
  private split(tenantId: string, items: Pending[], error: CoherenceError): Promise<void> | null {
    const named = new Map<number, typeof error.details>();
    for (const d of error.details) {
      if (typeof d.index === "number" && d.index >= 0 && d.index < items.length) {
        named.set(d.index, [...(named.get(d.index) ?? []), d]);
      }
    }
    if (named.size > 0) {
      const rest: Pending[] = [];
      items.forEach((item, i) => {
        const own = named.get(i);
        if (!own) rest.push(item);
        else
          this.rejectItem(
            item,
            new CoherenceError(error.code, own.map((d) => `${d.path ?? "(signal)"}: ${d.message ?? ""}`).join("; "), {
              status: error.status,
              details: own.map((d) => ({ ...d, index: 0 })),
            }),
          );
      });
      return rest.length > 0 ? this.deliver(tenantId, rest) : Promise.resolve();
    }
    if (items.length < 2) return null;
    const half = Math.ceil(items.length / 2);
    return this.deliver(tenantId, items.slice(0, half)).then(() => this.deliver(tenantId, items.slice(half)));
  }
}
