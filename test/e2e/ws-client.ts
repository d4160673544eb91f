// Stock graphql-ws client helpers for the realtime e2e tests (docs/api.md §4.5): the registered subscriptions and
// their addressing forms, subscriptions collected into deadline-waitable inboxes, and ingest helpers.
import { createHash } from "node:crypto";
import { type Client, createClient, type SubscribePayload } from "graphql-ws";
import WebSocket from "ws";
import { type HttpResult, ingest } from "./helpers";
import { realtimeUrl } from "./ws-raw";
import { Inbox } from "./ws-wait";

/** The contract's two registered subscriptions (§5), byte for byte. */
export const SUB_OPS = {
  pq_coherence_events_v1:
    "subscription($tenantId:ID!,$after:String){ coherenceEvents(tenantId:$tenantId,after:$after){ id type value weight source ts cursor } }",
  pq_tenant_coherence_updates_v1:
    "subscription($tenantId:ID!){ tenantCoherenceUpdates(tenantId:$tenantId){ tenantId score status updatedAt signalCount } }",
} as const;
export type SubOp = keyof typeof SUB_OPS;

/** One `coherenceEvents` item as the registered operation selects it. */
export interface EventView {
  id: string;
  type: string;
  value: number;
  weight: number | null;
  source: string;
  ts: string;
  cursor: string;
}

/** One `tenantCoherenceUpdates` item as the registered operation selects it. */
export interface ScoreUpdate {
  tenantId: string;
  score: number;
  status: string;
  updatedAt: string;
  signalCount: number;
}

/** A subscribe payload: graphql-ws requires `query` to be a string; persisted forms add `id`/`documentId`. */
export type Payload = SubscribePayload & Record<string, unknown>;

export const sha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

/** A subscribe payload naming `op` by its name in `id`, with `variables`. */
export function byId(op: SubOp, variables: Record<string, unknown>): Payload {
  return { query: "", id: op, variables };
}

/** Every way §5 lets a request name a registered operation, for `op`. */
export function addressingForms(op: SubOp, variables: Record<string, unknown>): Record<string, Payload> {
  const text = SUB_OPS[op];
  const hash = sha256(text);
  return {
    id: { query: "", id: op, variables },
    "id = sha256 of the text": { query: "", id: hash, variables },
    documentId: { query: "", documentId: op, variables },
    "extensions.persistedQuery.sha256Hash": {
      query: "",
      variables,
      extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
    },
    "byte-identical query text": { query: text, variables },
  };
}

/**
 * A stock graphql-ws client for a tenant's realtime route, authenticated as the contract says for a browser: each
 * connection's URL carries a fresh realtime ticket (`url: async () => …`, docs/api.md §4.5), and `connection_init`
 * the token.
 */
export function stockClient(
  baseUrl: string,
  tenantId: string,
  token: string,
  webSocketImpl: unknown = WebSocket,
): Client {
  return createClient({
    url: async () =>
      `${realtimeUrl(baseUrl, tenantId)}?ticket=${encodeURIComponent(await realtimeTicket(baseUrl, tenantId, token))}`,
    webSocketImpl,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
  });
}

/** One subscription of a stock client: its values as they arrive, and how it ended. */
export interface Subscription<T> {
  values: Inbox<T>;
  /** Resolves with the error (CloseEvent, GraphQL errors) or `"complete"` that ended it. */
  ended: Promise<unknown>;
  unsubscribe: () => void;
}

/** Subscribes through a stock client and collects the `field` of every `next` (a `next` with errors ends it). */
export function collect<T>(client: Client, payload: Payload, field: string): Subscription<T> {
  const values = new Inbox<T>();
  let settle: (r: unknown) => void = () => {};
  const ended = new Promise<unknown>((ok) => {
    settle = ok;
  });
  const finish = (reason: unknown) => {
    values.end(reason);
    settle(reason);
  };
  const unsubscribe = client.subscribe(payload, {
    next: (result) => {
      const data = result.data as Record<string, unknown> | null | undefined;
      if (result.errors || !data || !(field in data)) finish({ unexpectedNext: result });
      else values.push(data[field] as T);
    },
    error: (err) => finish(err),
    complete: () => finish("complete"),
  });
  return { values, ended, unsubscribe };
}

/** `coherenceEvents` through `pq_coherence_events_v1` (by id), optionally resuming after a cursor. */
export function subscribeEvents(client: Client, tenantId: string, after?: string): Subscription<EventView> {
  const variables = after === undefined ? { tenantId } : { tenantId, after };
  return collect<EventView>(client, byId("pq_coherence_events_v1", variables), "coherenceEvents");
}

/** `tenantCoherenceUpdates` through `pq_tenant_coherence_updates_v1` (by id). */
export function subscribeScores(client: Client, tenantId: string): Subscription<ScoreUpdate> {
  return collect<ScoreUpdate>(client, byId("pq_tenant_coherence_updates_v1", { tenantId }), "tenantCoherenceUpdates");
}

/**
 * A live `coherenceEvents` subscriber that is known to be registered: graphql-ws handles a connection's
 * messages in order, and `tenantCoherenceUpdates` answers at once, so its first value means the events
 * subscription sent before it is in place and nothing accepted from then on can be missed.
 */
export async function liveSubscriber(
  baseUrl: string,
  tenantId: string,
  token: string,
  after?: string,
): Promise<{ client: Client; events: Subscription<EventView>; scores: Subscription<ScoreUpdate> }> {
  const client = stockClient(baseUrl, tenantId, token);
  const events = subscribeEvents(client, tenantId, after);
  const scores = subscribeScores(client, tenantId);
  await scores.values.until((s) => s.length >= 1, 15_000, "the first score (subscriber ready)");
  return { client, events, scores };
}

/** Ingests `signals` in one request; throws unless it is a 202 that accepts every one. Returns the answer. */
export async function ingestAccepted(
  baseUrl: string,
  token: string,
  signals: Array<Record<string, unknown>>,
): Promise<HttpResult> {
  const res = await ingest(baseUrl, { signals }, token);
  const body = res.body as { accepted?: number };
  if (res.status !== 202 || body.accepted !== signals.length) {
    throw new Error(`ingest of ${signals.length} signals answered ${res.status}: ${res.text.slice(0, 500)}`);
  }
  return res;
}

/** Ids of `signals`, in order. */
export const idsOf = (signals: Array<Record<string, unknown>>): string[] => signals.map((s) => String(s.signalId));

/** The ids that occur more than once in `got` (each repeat listed). */
export function duplicateIds(got: readonly string[]): string[] {
  const seen = new Set<string>();
  const dups: string[] = [];
  for (const id of got) {
    if (seen.has(id)) dups.push(id);
    seen.add(id);
  }
  return dups;
}

/**
 * A `ws` WebSocket for the stock client whose graphql-ws `pong` messages wait until `release()`: a client on a
 * slow link, so a test can hold the server's flow control mid-replay. Messages after a held pong wait too, in order.
 */
export function pongGate(): { impl: typeof WebSocket; release: () => void } {
  let open = false;
  const sockets = new Set<GatedWebSocket>();
  class GatedWebSocket extends WebSocket {
    private held: string[] = [];
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { perMessageDeflate: false });
      sockets.add(this);
    }
    override send(data: string, cb?: (err?: Error) => void): void {
      if (!open && (this.held.length > 0 || data.includes('"type":"pong"'))) this.held.push(data);
      else super.send(data, cb);
    }
    flush(): void {
      const held = this.held;
      this.held = [];
      for (const data of held) if (this.readyState === WebSocket.OPEN) super.send(data);
    }
  }
  return {
    impl: GatedWebSocket,
    release: () => {
      open = true;
      for (const s of sockets) s.flush();
    },
  };
}

/** A realtime ticket for one upgrade of `tenantId`'s path (`POST /v1/tenants/{t}/realtime-tickets`). */
export async function realtimeTicket(baseUrl: string, tenantId: string, token: string): Promise<string> {
  const res = await fetch(`${baseUrl}/v1/tenants/${encodeURIComponent(tenantId)}/realtime-tickets`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`realtime-tickets answered ${res.status}: ${text}`);
  return (JSON.parse(text) as { ticket: string }).ticket;
}
