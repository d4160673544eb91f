// The client: one object per service (and token source) that publishes, reads and subscribes.
import { DEFAULT_RETRY, type RetryPolicy } from "./backoff.ts";
import type {
  PersistedOperationTypes,
  pq_tenant_coherence_full_v1Query,
  pq_tenant_usage_v1Query,
} from "./generated/operations.ts";
import { type HttpOperationName, type RetryContext, runOperation } from "./graphql.ts";
import type { Transport } from "./http.ts";
import { DEFAULT_PUBLISHER, Publisher, type PublisherOptions, type PublishResult, type Signal } from "./publisher.ts";
import {
  type LiveSubscription,
  type RealtimeOptions,
  type SubscribeHandlers,
  type SubscribeOptions,
  subscribe,
} from "./subscribe.ts";
import { type ClientCredentialsOptions, clientCredentials, type TokenOption, tokenProvider } from "./tokens.ts";

export interface CoherenceClientOptions {
  /** The service's base URL, e.g. `http://127.0.0.1:8787` (a path prefix is kept). */
  url: string;
  /** A JWT, a `getToken()` callback, or a TokenProvider (e.g. `perTenant(...)`). Exactly one of `token`, `oauth`. */
  token?: TokenOption;
  /** OAuth 2.0 client credentials: the client fetches and refreshes its own token. */
  oauth?: Omit<ClientCredentialsOptions, "fetch">;
  /** Batching and the queue's bound (see PublisherOptions for the defaults). */
  batching?: Partial<PublisherOptions>;
  /** Retries of every request (see RetryPolicy for the defaults). */
  retry?: Partial<RetryPolicy>;
  /** Each request attempt is abandoned after this long, in ms (default 10 000). */
  timeoutMs?: number;
  /** WebSocket settings of subscribe(). */
  realtime?: Partial<RealtimeOptions>;
  /** Replaces the platform's fetch (tests; or a Worker's service binding `env.SVC.fetch.bind(env.SVC)`). */
  fetch?: typeof fetch;
  /** Randomness of the backoff's jitter, [0, 1) (tests). */
  random?: () => number;
}

/** A tenant's score as `pq_tenant_coherence_full_v1` selects it. */
export type Score = pq_tenant_coherence_full_v1Query["tenantCoherence"];
/** A tenant's usage per day as `pq_tenant_usage_v1` selects it. */
export type TenantUsage = pq_tenant_usage_v1Query["tenantUsage"];

export class CoherenceClient {
  private readonly ctx: RetryContext;
  private readonly publisher: Publisher;
  private readonly realtime: RealtimeOptions;
  private readonly subscriptions = new Set<LiveSubscription>();

  constructor(opts: CoherenceClientOptions) {
    if ((opts.token === undefined) === (opts.oauth === undefined)) {
      throw new TypeError("give exactly one of `token` and `oauth`");
    }
    // Unbound, a browser's fetch throws "Illegal invocation".
    const fetchImpl: typeof fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const tokens =
      opts.oauth !== undefined
        ? clientCredentials({ ...opts.oauth, fetch: fetchImpl })
        : tokenProvider(opts.token as TokenOption);
    const transport: Transport = {
      baseUrl: opts.url.replace(/\/+$/, ""),
      fetch: fetchImpl,
      tokens,
      timeoutMs: opts.timeoutMs ?? 10_000,
    };
    this.ctx = { transport, retry: { ...DEFAULT_RETRY, ...opts.retry }, random: opts.random ?? Math.random };
    this.publisher = new Publisher(this.ctx, { ...DEFAULT_PUBLISHER, ...opts.batching });
    this.realtime = {
      keepAliveMs: 15_000,
      pongTimeoutMs: 5_000,
      maxReconnectAttempts: Number.POSITIVE_INFINITY,
      ...opts.realtime,
    };
  }

  /**
   * Queues signals for the service and resolves once it accepted them (each `accepted`, or `duplicate` when it had
   * them already). Waits for room first when the queue is full. Rejects with a CoherenceError when the service refuses
   * a signal (VALIDATION_FAILED, FORBIDDEN, …) or it stayed unreachable through every retry.
   */
  publish(signal: Signal): Promise<PublishResult>;
  publish(signals: readonly Signal[]): Promise<PublishResult[]>;
  publish(input: Signal | readonly Signal[]): Promise<PublishResult | PublishResult[]> {
    if (Array.isArray(input)) return this.publishMany(input);
    return this.publisher.publishOne(input as Signal);
  }

  private publishMany(signals: readonly Signal[]): Promise<PublishResult[]> {
    // Each signal takes its place in the queue in order (waiting for room in turn when the queue is full).
    return Promise.all(signals.map((s) => this.publisher.publishOne(s)));
  }

  /**
   * Resolves when the queue has room (at once when it has). The backpressure of a producer that does not await each
   * publish(): `await client.room(); client.publish(signal).catch(report);`.
   */
  room(): Promise<void> {
    return this.publisher.room();
  }

  /** Sends what is queued now; resolves when everything published so far is settled. */
  flush(): Promise<void> {
    return this.publisher.flush();
  }

  /** Flushes, refuses further publish() calls and ends every subscription. */
  async close(): Promise<void> {
    for (const s of this.subscriptions) s.unsubscribe();
    this.subscriptions.clear();
    await this.publisher.close();
  }

  /**
   * Gives up at once: pending publish() calls reject with `ABORTED` (unknown whether the service has them; publishing
   * them again is safe when they carry `ts`, or their `signalId`), subscriptions end, later calls are refused.
   */
  abort(): void {
    for (const s of this.subscriptions) s.unsubscribe();
    this.subscriptions.clear();
    this.publisher.abortAll();
  }

  /** Queued, in flight, requests, retries and batches so far. */
  stats(): ReturnType<Publisher["stats"]> {
    return this.publisher.stats();
  }

  /** The tenant's current score (`pq_tenant_coherence_full_v1`; scope `coherence:read`). */
  async score(tenantId: string): Promise<Score> {
    return (await this.query("pq_tenant_coherence_full_v1", { tenantId }, tenantId)).tenantCoherence;
  }

  /** The tenant's usage per UTC day, `from`..`to` inclusive, YYYY-MM-DD (`pq_tenant_usage_v1`; scope `finops:read`). */
  async usage(tenantId: string, range: { from: string; to: string }): Promise<TenantUsage> {
    return (await this.query("pq_tenant_usage_v1", { tenantId, ...range }, tenantId)).tenantUsage;
  }

  /** Any registered query or mutation by name, typed by the generated operation types. */
  query<N extends HttpOperationName>(
    name: N,
    variables: PersistedOperationTypes[N]["variables"],
    tenantId: string | null = null,
  ): Promise<PersistedOperationTypes[N]["result"]> {
    return runOperation(this.ctx, name, variables, tenantId);
  }

  /**
   * The tenant's accepted signals (`handlers.event`) and/or score (`handlers.score`), live over a WebSocket that
   * reconnects by itself and resumes after the last delivered cursor. `after` resumes a previous session.
   */
  subscribe(tenantId: string, handlers: SubscribeHandlers, opts: SubscribeOptions = {}): LiveSubscription {
    const sub = subscribe(this.ctx, this.realtime, tenantId, handlers, opts);
    const tracked: LiveSubscription = {
      get cursor() {
        return sub.cursor;
      },
      unsubscribe: () => {
        this.subscriptions.delete(tracked);
        sub.unsubscribe();
      },
    };
    this.subscriptions.add(tracked);
    return tracked;
  }
}

/** A client for the service at `opts.url`. */
export function createCoherenceClient(opts: CoherenceClientOptions): CoherenceClient {
  return new CoherenceClient(opts);
}
