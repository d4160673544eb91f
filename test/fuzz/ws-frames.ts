// Hostile graphql-transport-ws sessions for the fuzz tests (docs/api.md §4.5): frame sequences with what the contract
// promises for well-formed subscribes, so a fuzz run also checks answers, not just the absence of crashes.
import fc from "fast-check";
import { type AuthSpec, authArb, authValue, type Tokens, tokenAuth } from "./auth";
import { hostileFragment, invalidUtf8, j, type OpName, OTHER_TENANT, PERSISTED, sha256, WS_TENANT } from "./json";

/** What a subscribe must get back when it reaches a ready connection as one of its first 20 (null: anything). */
export type SubscribeExpect = "next" | "error" | "FORBIDDEN" | "BAD_CURSOR" | null;

/** One client frame as data; `init` and `subscribe` are built when sent (tokens, padding). */
export type WsFrame =
  | { t: "text"; data: string }
  | { t: "binary"; bytes: number[] }
  | { t: "bad-utf8"; bytes: number[] }
  | { t: "init"; auth: AuthSpec; key: string; shape: "object" | "no-payload" | "null" | "string" | "array" }
  | { t: "subscribe"; id: string; payload: string; expect: SubscribeExpect }
  | { t: "padded"; id: string; chars: number }
  | { t: "complete"; id: string };

/** One WebSocket session: the tenant in the path, the offered subprotocol(s), the frames in order. */
export interface WsCase {
  tenant: string;
  protocols: string[];
  frames: WsFrame[];
}

/** Frames above this many characters are closed with 1009 (README: 64 KiB). */
export const MAX_FRAME_CHARS = 64 * 1024;

/** The text (or bytes) a frame is sent as. */
export function frameData(frame: WsFrame, tokens: Tokens): string | Uint8Array<ArrayBuffer> {
  switch (frame.t) {
    case "text":
      return frame.data;
    case "binary":
    case "bad-utf8":
      return Uint8Array.from(frame.bytes);
    case "init": {
      const value = authValue(frame.auth, tokens) ?? null;
      const payload = { object: j({ [frame.key]: value }), null: "null", string: j(String(value)), array: j([value]) };
      return frame.shape === "no-payload"
        ? '{"type":"connection_init"}'
        : `{"type":"connection_init","payload":${payload[frame.shape]}}`;
    }
    case "subscribe":
      return `{"type":"subscribe","id":${j(frame.id)},"payload":${frame.payload}}`;
    case "padded": {
      const head = `{"type":"subscribe","id":${j(frame.id)},"payload":{"query":"","id":"pq_tenant_coherence_updates_v1","variables":{"tenantId":${j(WS_TENANT)}}}`;
      return `${head}${" ".repeat(Math.max(0, frame.chars - head.length - 1))}}`;
    }
    case "complete":
      return `{"type":"complete","id":${j(frame.id)}}`;
  }
}

export const subscriptionIdArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("1", "2", "3", "a", "b") },
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z0-9]{1,12}$/) },
  { weight: 1, arbitrary: fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "valueOf") },
  { weight: 1, arbitrary: fc.constantFrom("", "x".repeat(64), "x".repeat(65), "\u0000", "\ud800", "id with space") },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
);

/** A resume cursor and whether the contract calls it malformed (null: not a string or not decided here). */
const cursorArb: fc.Arbitrary<{ text: string; bad: boolean | null }> = fc.oneof(
  fc.constantFrom("v1.0", "v1.1").map((c) => ({ text: j(c), bad: false })),
  fc
    .constantFrom("garbage", "v2.1", "v1.-1", "v1.01", "v1.1e3", "v1.9007199254740993", "v1.99999999", "v1.0 ")
    .map((c) => ({ text: j(c), bad: true })),
  // Not strings, or empty (which a server may read as "no cursor"): any answer but a crash.
  fc.constantFrom("5", "{}", "[]", "true", "null", '""').map((text) => ({ text, bad: null })),
);

const SUBSCRIPTIONS: OpName[] = ["pq_coherence_events_v1", "pq_tenant_coherence_updates_v1"];

/** A subscribe payload (JSON text) and what it must get back, when the contract says. */
export const subscribePayloadArb: fc.Arbitrary<{ payload: string; expect: SubscribeExpect }> = fc
  .tuple(
    fc.constantFrom(...SUBSCRIPTIONS),
    fc.constantFrom("id", "documentId", "apq", "text"),
    fc.oneof(
      { weight: 3, arbitrary: fc.constant(j(WS_TENANT)) },
      { weight: 1, arbitrary: fc.constant(j(OTHER_TENANT)) },
      { weight: 1, arbitrary: hostileFragment },
    ),
    fc.option(cursorArb, { nil: undefined }),
  )
  .map(([op, form, tenant, cursor]) => {
    const addr = {
      id: `"query":"","id":${j(op)}`,
      documentId: `"query":"","documentId":${j(op)}`,
      apq: `"query":"","extensions":{"persistedQuery":{"version":1,"sha256Hash":${j(sha256(PERSISTED[op]))}}}`,
      text: `"query":${j(PERSISTED[op])}`,
    }[form];
    const after = cursor === undefined ? "" : `,"after":${cursor.text}`;
    let expect: SubscribeExpect = null;
    if (tenant === j(WS_TENANT) && cursor === undefined && op === "pq_tenant_coherence_updates_v1") expect = "next";
    else if (tenant === j(OTHER_TENANT) && cursor === undefined) expect = "FORBIDDEN";
    else if (tenant === j(WS_TENANT) && op === "pq_coherence_events_v1" && cursor?.bad === true) expect = "BAD_CURSOR";
    else if (tenant === j(OTHER_TENANT) && cursor?.bad === true) expect = "error";
    return { payload: `{${addr},"variables":{"tenantId":${tenant}${after}}}`, expect };
  });

/** Payloads that are not a registered subscription, or not even a payload. */
const badPayloadArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('{"query":"","id":"nope"}', '{"query":123}', '{"id":"pq_coherence_events_v1"}', "null", "[]", '""'),
  fc.constantFrom('{"query":"","id":"pq_publish_signal_v1","variables":{"input":{}}}', '{"query":"{ __typename }"}'),
  fc.constantFrom(`{"query":"","id":"pq_tenant_coherence_v1","variables":{"tenantId":"${WS_TENANT}"}}`),
  fc.jsonValue({ maxDepth: 3 }).map(j),
);

const garbageText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 100 }),
  fc.string({ unit: "binary", maxLength: 100 }),
  fc.jsonValue({ maxDepth: 3 }).map(j),
  fc.constantFrom("", "null", "{}", "[]", '{"type":"subscribe"}', '{"type":"subscribe","id":5,"payload":{"query":""}}'),
  fc.constantFrom('{"type":"complete"}', '{"type":"next","id":"1","payload":{}}', '{"type":"error","id":"1"}'),
  fc.constantFrom('{"type":"connection_ack"}', '{"type":"ping","payload":"x"}', '{"type":"pong","payload":[1]}'),
  fc.constantFrom('{"type":"PING"}', '{"type":"ping","payload":{"n":-1}}', '{"type":"pong","payload":{"n":1e309}}'),
  fc.constantFrom('{"type":"pong","payload":{"n":"9"}}', '{"type":"ping","payload":null}', '{"type":"ping"} x'),
  fc.constantFrom('{"type":"subscribe","id":"1","payload":{"query":""},"__proto__":{"x":1}}', '{"type":["ping"]}'),
);

export const wsFrameArb: fc.Arbitrary<WsFrame> = fc.oneof(
  { weight: 3, arbitrary: garbageText.map((data): WsFrame => ({ t: "text", data })) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.uint8Array({ maxLength: 40 }),
        garbageText.map((s) => Buffer.from(s)),
      )
      .map((b): WsFrame => ({ t: "binary", bytes: [...b] })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        invalidUtf8,
        fc.constantFrom('{"type":"ping","payload":{"x":"', '{"type":"connection_init","payload":{"a":"'),
      )
      .map(([bad, head]): WsFrame => ({ t: "bad-utf8", bytes: [...Buffer.from(head), ...bad, ...Buffer.from('"}}')] })),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("init" as const),
      auth: fc.oneof(fc.constantFrom(tokenAuth("read"), tokenAuth("write")), authArb),
      key: fc.constantFrom("authorization", "Authorization", "token", "AUTHORIZATION", "__proto__"),
      shape: fc.constantFrom("object", "object", "object", "no-payload", "null", "string", "array"),
    }),
  },
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        subscriptionIdArb,
        fc.oneof(
          { weight: 3, arbitrary: subscribePayloadArb },
          { weight: 1, arbitrary: badPayloadArb.map((payload) => ({ payload, expect: null })) },
        ),
      )
      .map(([id, p]): WsFrame => ({ t: "subscribe", id, payload: p.payload, expect: p.expect })),
  },
  { weight: 2, arbitrary: subscriptionIdArb.map((id): WsFrame => ({ t: "complete", id })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        subscriptionIdArb,
        fc.constantFrom(1000, MAX_FRAME_CHARS - 1, MAX_FRAME_CHARS, MAX_FRAME_CHARS + 1, 200_000),
      )
      .map(([id, chars]): WsFrame => ({ t: "padded", id, chars })),
  },
);

/** A valid `connection_init` for the WebSocket tenant. */
export const validInit = (role: "read" | "write"): WsFrame => ({
  t: "init",
  auth: tokenAuth(role),
  key: "authorization",
  shape: "object",
});

/** A well-formed `tenantCoherenceUpdates` subscribe for the WebSocket tenant. */
export const scoreSubscribe = (id: string, expect: SubscribeExpect): WsFrame => ({
  t: "subscribe",
  id,
  payload: `{"query":"","id":"pq_tenant_coherence_updates_v1","variables":{"tenantId":${j(WS_TENANT)}}}`,
  expect,
});

const protocolsArb: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 20, arbitrary: fc.constant<string[]>(["graphql-transport-ws"]) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<string[]>(
      [],
      ["graphql-ws"],
      ["graphql-ws", "graphql-transport-ws"],
      ["GRAPHQL-TRANSPORT-WS"],
      ["x"],
    ),
  },
);
const wsTenantArb = fc.oneof(
  { weight: 20, arbitrary: fc.constant(WS_TENANT) },
  { weight: 1, arbitrary: fc.constantFrom(OTHER_TENANT, "", "a/b", "..", "x".repeat(129), "fuzz ws", "\u202e") },
);

export const wsCaseArb: fc.Arbitrary<WsCase> = fc
  .oneof(
    {
      weight: 5,
      arbitrary: fc
        .tuple(
          fc.constantFrom<"read" | "write">("read", "write"),
          fc.array(wsFrameArb, { minLength: 1, maxLength: 12 }),
        )
        .map(([role, rest]) => [validInit(role), ...rest]),
    },
    { weight: 3, arbitrary: fc.array(wsFrameArb, { minLength: 1, maxLength: 10 }) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 21, max: 25 })
        .map((n) => [
          validInit("read"),
          ...Array.from({ length: n }, (_, i) => scoreSubscribe(`s${i}`, i < 20 ? "next" : "error")),
        ]),
    },
  )
  .chain((frames) => fc.record({ tenant: wsTenantArb, protocols: protocolsArb, frames: fc.constant(frames) }));
