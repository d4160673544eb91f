import { z } from "zod";

/** The WebSocket subprotocol of graphql-ws (the "graphql-transport-ws" protocol). */
export const GRAPHQL_TRANSPORT_WS = "graphql-transport-ws";
/** At most this many subscriptions per connection (docs/api.md §4.5); the next one gets an `error` message. */
export const MAX_SUBSCRIPTIONS = 20;
/** Longest accepted frame; anything larger is closed with 1009 before it is parsed. */
export const MAX_FRAME_CHARS = 64 * 1024;
/** Longest subscription id; ids live in the socket's small hibernation attachment. */
export const MAX_ID_CHARS = 64;

/** Close codes of the graphql-ws protocol and the contract (§6). */
export const Close = {
  BadRequest: 4400,
  Unauthorized: 4401,
  Forbidden: 4403,
  ConnectionInitialisationTimeout: 4408,
  SubscriberAlreadyExists: 4409,
  TooManyInitialisationRequests: 4429,
  InternalError: 4500,
  MessageTooBig: 1009,
  TryAgainLater: 1013,
} as const;

const payloadObject = z.record(z.string(), z.unknown()).nullish();

const clientMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("connection_init"), payload: payloadObject }),
  z.object({ type: z.literal("ping"), payload: payloadObject }),
  z.object({ type: z.literal("pong"), payload: payloadObject }),
  z.object({
    type: z.literal("subscribe"),
    id: z.string().min(1).max(MAX_ID_CHARS),
    payload: z
      .object({
        query: z.string(),
        variables: z.record(z.string(), z.unknown()).nullish(),
        operationName: z.string().nullish(),
        extensions: z.record(z.string(), z.unknown()).nullish(),
      })
      .loose(),
  }),
  z.object({ type: z.literal("complete"), id: z.string().min(1).max(MAX_ID_CHARS) }),
]);

export type ClientMessage = z.infer<typeof clientMessage>;
export type SubscribePayload = Extract<ClientMessage, { type: "subscribe" }>["payload"];

/** Where a connection is in the protocol. */
export type Phase = "awaiting_init" | "authenticating" | "ready";

/** The protocol's view of one connection; small, so it fits the socket's hibernation attachment. */
export interface ConnectionState {
  phase: Phase;
  /** Ids of active subscriptions, in subscribe order. */
  ids: string[];
}

/** What the shell must do after a protocol step. Pure data: the machine touches no socket. */
export type Action =
  | { type: "send"; frame: string }
  | { type: "close"; code: number; reason: string }
  | { type: "authenticate"; payload: Record<string, unknown> }
  | { type: "start"; id: string; payload: SubscribePayload }
  | { type: "stop"; id: string }
  | { type: "acknowledge"; payload: Record<string, unknown> | null };

export interface Step {
  state: ConnectionState;
  actions: Action[];
}

export const initialState: ConnectionState = { phase: "awaiting_init", ids: [] };

const close = (state: ConnectionState, code: number, reason: string): Step => ({
  state,
  actions: [{ type: "close", code, reason }],
});

/** An `error` message for one subscription, with a contract code. */
export function errorFrame(id: string, code: string, message: string): string {
  return JSON.stringify({ id, type: "error", payload: [{ message, extensions: { code } }] });
}

/** Advances the protocol by one client frame. */
export function onFrame(state: ConnectionState, data: string | ArrayBuffer): Step {
  if (typeof data !== "string") return close(state, Close.BadRequest, "binary frames are not part of the protocol");
  if (data.length > MAX_FRAME_CHARS) return close(state, Close.MessageTooBig, "message too big");
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return close(state, Close.BadRequest, "invalid JSON");
  }
  const parsed = clientMessage.safeParse(json);
  if (!parsed.success) return close(state, Close.BadRequest, "invalid message");
  const msg = parsed.data;
  switch (msg.type) {
    case "connection_init":
      if (state.phase !== "awaiting_init") {
        return close(state, Close.TooManyInitialisationRequests, "too many initialisation requests");
      }
      return {
        state: { ...state, phase: "authenticating" },
        actions: [{ type: "authenticate", payload: msg.payload ?? {} }],
      };
    case "ping":
      return {
        state,
        actions: [
          {
            type: "send",
            frame: JSON.stringify(msg.payload ? { type: "pong", payload: msg.payload } : { type: "pong" }),
          },
        ],
      };
    case "pong":
      return { state, actions: [{ type: "acknowledge", payload: msg.payload ?? null }] };
    case "subscribe":
      if (state.phase !== "ready") return close(state, Close.Unauthorized, "unauthorized");
      if (state.ids.includes(msg.id)) {
        return close(state, Close.SubscriberAlreadyExists, `subscriber for ${msg.id} already exists`);
      }
      if (state.ids.length >= MAX_SUBSCRIPTIONS) {
        return {
          state,
          actions: [
            {
              type: "send",
              frame: errorFrame(
                msg.id,
                "TOO_MANY_SUBSCRIPTIONS",
                `at most ${MAX_SUBSCRIPTIONS} subscriptions per connection`,
              ),
            },
          ],
        };
      }
      return {
        state: { ...state, ids: [...state.ids, msg.id] },
        actions: [{ type: "start", id: msg.id, payload: msg.payload }],
      };
    case "complete":
      if (!state.ids.includes(msg.id)) return { state, actions: [] };
      return {
        state: { ...state, ids: state.ids.filter((i) => i !== msg.id) },
        actions: [{ type: "stop", id: msg.id }],
      };
  }
}

/** The outcome of checking `connection_init`'s token. */
export type AuthResult = "ok" | "unauthenticated" | "forbidden";

/** Advances the protocol once authentication of `connection_init` has finished. */
export function onAuthenticated(state: ConnectionState, result: AuthResult): Step {
  if (state.phase !== "authenticating") return { state, actions: [] };
  if (result === "unauthenticated") return close(state, Close.Unauthorized, "unauthorized");
  if (result === "forbidden") return close(state, Close.Forbidden, "forbidden");
  return {
    state: { ...state, phase: "ready" },
    actions: [{ type: "send", frame: JSON.stringify({ type: "connection_ack" }) }],
  };
}

/** Forgets a subscription the shell refused (it has sent the `error` message itself). */
export function onSubscriptionEnded(state: ConnectionState, id: string): ConnectionState {
  return state.ids.includes(id) ? { ...state, ids: state.ids.filter((i) => i !== id) } : state;
}
