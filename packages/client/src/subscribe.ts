// subscribe(): a tenant's live signals and score over the stock graphql-ws client (docs/api.md §4.5). Each
// connection's URL carries a fresh realtime ticket (POST /v1/tenants/{t}/realtime-tickets), `connection_init` the
// token. When the connection drops (network, server restart, 1013 "too far behind", a dead peer found by ping), the
// subscription comes back by itself after a backoff and resumes after the last cursor it delivered, so the caller
// sees every accepted signal once, in order. It ends only when told to, or on an error that a retry cannot fix.
import { type Client, createClient } from "graphql-ws/client";
import { backoffDelay, type RetryPolicy } from "./backoff.ts";
import { CoherenceError } from "./errors.ts";
import type {
  pq_coherence_events_v1Subscription,
  pq_tenant_coherence_updates_v1Subscription,
} from "./generated/operations.ts";
import { type RetryContext, withRetries } from "./graphql.ts";
import { exchange, type Transport } from "./http.ts";

/** One accepted signal as `pq_coherence_events_v1` selects it. */
export type CoherenceEvent = pq_coherence_events_v1Subscription["coherenceEvents"];
/** The score as `pq_tenant_coherence_updates_v1` selects it. */
export type ScoreUpdate = pq_tenant_coherence_updates_v1Subscription["tenantCoherenceUpdates"];

export interface SubscribeHandlers {
  /** Every accepted signal, in acceptance order (resumed without gap or duplicate across reconnects). */
  event?: (event: CoherenceEvent) => void;
  /** The score, once on (re)subscribe and whenever it changes. */
  score?: (score: ScoreUpdate) => void;
  /** The subscription ended for good (e.g. FORBIDDEN, CURSOR_EXPIRED: events were missed). */
  error?: (error: CoherenceError) => void;
  /** A connection was lost; the client reconnects after `delayMs`. */
  reconnecting?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  /** A connection is up and its subscriptions are sent (again). */
  connected?: () => void;
}

export interface SubscribeOptions {
  /** Resume after this cursor (a previous event's `cursor`): what was accepted since is replayed first. */
  after?: string;
}

export interface LiveSubscription {
  /** The cursor of the last event delivered (what a reconnect resumes after). */
  readonly cursor: string | undefined;
  unsubscribe(): void;
}

export interface RealtimeOptions {
  /** A WebSocket constructor where the platform has none (Node 20: the `ws` package). */
  webSocketImpl?: unknown;
  /** Ping every this many ms; a pong later than `pongTimeoutMs` counts as a dropped connection (default 15 000). */
  keepAliveMs: number;
  pongTimeoutMs: number;
  /** Consecutive failed connections before giving up (default: never). */
  maxReconnectAttempts: number;
}

/** Close codes and error codes after which reconnecting cannot help (docs/api.md §4.5). */
const FATAL_CLOSE: Record<number, string> = { 4400: "BAD_REQUEST", 4403: "FORBIDDEN" };
const FATAL_CODES = new Set([
  "FORBIDDEN",
  "BAD_CURSOR",
  "CURSOR_EXPIRED",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_ONLY",
  "VALIDATION_FAILED",
  "UNAUTHENTICATED",
  "TOO_MANY_SUBSCRIPTIONS",
]);

function realtimeUrl(baseUrl: string, tenantId: string): string {
  return `${baseUrl.replace(/^http/, "ws")}/v1/tenants/${encodeURIComponent(tenantId)}/graphql`;
}

/** A ticket for one upgrade of `tenantId`'s realtime path. */
async function ticket(ctx: RetryContext, tenantId: string): Promise<string> {
  const answer = await withRetries(ctx, (refreshToken) =>
    exchange(ctx.transport, {
      path: `/v1/tenants/${encodeURIComponent(tenantId)}/realtime-tickets`,
      method: "POST",
      tenantId,
      refreshToken,
    }),
  );
  const value = (answer.body as { ticket?: unknown } | null)?.ticket;
  if (typeof value !== "string") throw new CoherenceError("BAD_RESPONSE", "realtime-tickets answered without a ticket");
  return value;
}

/** Why a subscription ended, as a CoherenceError, and whether a reconnect may help. */
export function classifyEnd(reason: unknown): { error: CoherenceError; fatal: boolean } {
  if (reason instanceof CoherenceError) return { error: reason, fatal: !reason.retryable };
  if (Array.isArray(reason)) {
    const first = reason[0] as { message?: unknown; extensions?: { code?: unknown } } | undefined;
    const code = typeof first?.extensions?.code === "string" ? first.extensions.code : "SUBSCRIPTION_ERROR";
    const message = typeof first?.message === "string" ? first.message : code;
    return { error: new CoherenceError(code, message), fatal: FATAL_CODES.has(code) };
  }
  if (reason !== null && typeof reason === "object" && "code" in reason && typeof reason.code === "number") {
    const code = reason.code;
    const text = "reason" in reason && typeof reason.reason === "string" ? reason.reason : "";
    const fatalCode = FATAL_CLOSE[code];
    if (fatalCode) return { error: new CoherenceError(fatalCode, `closed ${code} ${text}`.trim()), fatal: true };
    if (code === 4401)
      return { error: new CoherenceError("UNAUTHENTICATED", `closed 4401 ${text}`.trim()), fatal: false };
    return { error: new CoherenceError("NETWORK", `closed ${code} ${text}`.trim(), { retryable: true }), fatal: false };
  }
  if (reason === "complete") {
    return {
      error: new CoherenceError("NETWORK", "the server completed the subscription", { retryable: true }),
      fatal: false,
    };
  }
  const message = reason instanceof Error ? reason.message : String(reason);
  return { error: new CoherenceError("NETWORK", message, { retryable: true, cause: reason }), fatal: false };
}

type SubscribePayload = Parameters<Client["subscribe"]>[0];

/** A subscribe payload naming a registered operation by id (graphql-ws requires `query` to be a string: `""`). */
function persisted(id: string, variables: Record<string, unknown>): SubscribePayload {
  const payload: SubscribePayload & { id: string } = { query: "", id, variables };
  return payload;
}

/** Opens a resumable subscription to `tenantId`'s events and/or score (whichever handlers are given). */
export function subscribe(
  ctx: RetryContext & { transport: Transport; retry: RetryPolicy },
  realtime: RealtimeOptions,
  tenantId: string,
  handlers: SubscribeHandlers,
  opts: SubscribeOptions = {},
): LiveSubscription {
  let cursor = opts.after;
  let stopped = false;
  let failures = 0;
  let unauthorizedOnce = false;
  let generation = 0;
  let refreshToken = false;
  let client: Client | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;

  const stop = (error?: CoherenceError) => {
    if (stopped) return;
    stopped = true;
    if (retryTimer !== null) clearTimeout(retryTimer);
    void client?.dispose();
    client = null;
    if (error) handlers.error?.(error);
  };

  const ended = (gen: number, reason: unknown) => {
    if (stopped || gen !== generation) return;
    generation++;
    void client?.dispose();
    client = null;
    const { error, fatal } = classifyEnd(reason);
    if (error.code === "UNAUTHENTICATED") {
      // An expired token: a fresh one may fix it, once in a row.
      if (unauthorizedOnce || !ctx.transport.tokens.refreshable) return stop(error);
      unauthorizedOnce = true;
      refreshToken = true;
    } else if (fatal) {
      return stop(error);
    }
    failures++;
    if (failures > realtime.maxReconnectAttempts) return stop(error.withAttempts(failures));
    const delayMs = backoffDelay(failures - 1, ctx.retry, ctx.random);
    handlers.reconnecting?.({ attempt: failures, delayMs, reason: `${error.code}: ${error.message}` });
    retryTimer = setTimeout(() => {
      retryTimer = null;
      start();
    }, delayMs);
  };

  const start = () => {
    if (stopped) return;
    const gen = generation;
    let pongTimer: ReturnType<typeof setTimeout> | null = null;
    let socket: { readyState: number; close: (code: number, reason: string) => void } | null = null;
    const c = createClient({
      url: async () =>
        `${realtimeUrl(ctx.transport.baseUrl, tenantId)}?ticket=${encodeURIComponent(await ticket(ctx, tenantId))}`,
      connectionParams: async () => {
        const token = await ctx.transport.tokens.token({ tenantId, refresh: refreshToken });
        refreshToken = false;
        return { authorization: `Bearer ${token}` };
      },
      lazy: true,
      retryAttempts: 0,
      keepAlive: realtime.keepAliveMs,
      ...(realtime.webSocketImpl === undefined ? {} : { webSocketImpl: realtime.webSocketImpl }),
      on: {
        connected: (s) => {
          socket = s as typeof socket;
          failures = 0;
          handlers.connected?.();
        },
        ping: (received) => {
          if (received) return;
          // graphql-ws pings but does not notice a missing pong: a silent peer (half-open TCP) is found here.
          pongTimer = setTimeout(() => {
            if (socket?.readyState === 1) socket.close(4408, "pong timeout");
          }, realtime.pongTimeoutMs);
        },
        pong: (received) => {
          if (received && pongTimer !== null) clearTimeout(pongTimer);
        },
        closed: () => {
          if (pongTimer !== null) clearTimeout(pongTimer);
        },
      },
    });
    client = c;
    const sink = <T>(field: string, deliver: (value: T) => void) => ({
      next: (result: { data?: Record<string, unknown> | null; errors?: readonly unknown[] }) => {
        if (gen !== generation || stopped) return;
        const value = result.data?.[field];
        if (result.errors?.length || value === undefined || value === null) return ended(gen, result.errors ?? []);
        unauthorizedOnce = false;
        deliver(value as T);
      },
      error: (err: unknown) => ended(gen, err),
      complete: () => ended(gen, "complete"),
    });
    if (handlers.event) {
      const onEvent = handlers.event;
      c.subscribe(
        persisted("pq_coherence_events_v1", cursor === undefined ? { tenantId } : { tenantId, after: cursor }),
        sink<CoherenceEvent>("coherenceEvents", (event) => {
          cursor = event.cursor;
          onEvent(event);
        }),
      );
    }
    if (handlers.score) {
      const onScore = handlers.score;
      c.subscribe(
        persisted("pq_tenant_coherence_updates_v1", { tenantId }),
        sink<ScoreUpdate>("tenantCoherenceUpdates", onScore),
      );
    }
  };

  start();
  return {
    get cursor() {
      return cursor;
    },
    unsubscribe: () => stop(),
  };
}
