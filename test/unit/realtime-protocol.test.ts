import { describe, expect, it } from "vitest";
import {
  type Action,
  Close,
  type ConnectionState,
  initialState,
  MAX_FRAME_CHARS,
  MAX_SUBSCRIPTIONS,
  onAuthenticated,
  onFrame,
} from "../../src/realtime/protocol";

const frame = (msg: unknown) => JSON.stringify(msg);
const ready: ConnectionState = { phase: "ready", ids: [] };
const closeOf = (actions: Action[]) => actions.find((a) => a.type === "close");

describe("graphql-ws protocol machine", () => {
  it("asks to authenticate connection_init, then acks on success", () => {
    const init = onFrame(initialState, frame({ type: "connection_init", payload: { authorization: "Bearer x" } }));
    expect(init.state.phase).toBe("authenticating");
    expect(init.actions).toEqual([{ type: "authenticate", payload: { authorization: "Bearer x" } }]);
    const ack = onAuthenticated(init.state, "ok");
    expect(ack.state.phase).toBe("ready");
    expect(ack.actions).toEqual([{ type: "send", frame: '{"type":"connection_ack"}' }]);
  });

  it("closes 4401 for a bad token and 4403 for a forbidden one", () => {
    const authenticating: ConnectionState = { phase: "authenticating", ids: [] };
    expect(closeOf(onAuthenticated(authenticating, "unauthenticated").actions)).toMatchObject({
      code: Close.Unauthorized,
    });
    expect(closeOf(onAuthenticated(authenticating, "forbidden").actions)).toMatchObject({ code: Close.Forbidden });
  });

  it("closes 4429 on a second connection_init", () => {
    const again = onFrame({ phase: "authenticating", ids: [] }, frame({ type: "connection_init" }));
    expect(closeOf(again.actions)).toMatchObject({ code: Close.TooManyInitialisationRequests });
    expect(closeOf(onFrame(ready, frame({ type: "connection_init" })).actions)?.code).toBe(4429);
  });

  it("closes 4401 on subscribe before the ack", () => {
    const early = onFrame(initialState, frame({ type: "subscribe", id: "1", payload: { query: "" } }));
    expect(closeOf(early.actions)).toMatchObject({ code: Close.Unauthorized });
  });

  it("starts a subscription and closes 4409 on a duplicate id", () => {
    const first = onFrame(ready, frame({ type: "subscribe", id: "a", payload: { query: "", id: "op" } }));
    expect(first.state.ids).toEqual(["a"]);
    expect(first.actions).toEqual([{ type: "start", id: "a", payload: { query: "", id: "op" } }]);
    const dup = onFrame(first.state, frame({ type: "subscribe", id: "a", payload: { query: "" } }));
    expect(closeOf(dup.actions)).toMatchObject({ code: Close.SubscriberAlreadyExists });
  });

  it("answers the subscription past the limit with an error message and keeps the connection", () => {
    const full: ConnectionState = { phase: "ready", ids: Array.from({ length: MAX_SUBSCRIPTIONS }, (_, i) => `s${i}`) };
    const over = onFrame(full, frame({ type: "subscribe", id: "extra", payload: { query: "" } }));
    expect(over.state).toEqual(full);
    expect(over.actions).toHaveLength(1);
    const sent = over.actions[0];
    expect(sent?.type).toBe("send");
    expect(JSON.parse(sent?.type === "send" ? sent.frame : "{}")).toMatchObject({
      id: "extra",
      type: "error",
      payload: [{ extensions: { code: "TOO_MANY_SUBSCRIPTIONS" } }],
    });
  });

  it("completes a subscription by id and ignores unknown ids", () => {
    const done = onFrame({ phase: "ready", ids: ["a", "b"] }, frame({ type: "complete", id: "a" }));
    expect(done.state.ids).toEqual(["b"]);
    expect(done.actions).toEqual([{ type: "stop", id: "a" }]);
    expect(onFrame(ready, frame({ type: "complete", id: "zz" })).actions).toEqual([]);
  });

  it("answers ping with pong, echoing the payload, and reports pongs", () => {
    expect(onFrame(ready, frame({ type: "ping" })).actions).toEqual([{ type: "send", frame: '{"type":"pong"}' }]);
    expect(onFrame(ready, frame({ type: "ping", payload: { x: 1 } })).actions).toEqual([
      { type: "send", frame: '{"type":"pong","payload":{"x":1}}' },
    ]);
    expect(onFrame(ready, frame({ type: "pong", payload: { n: 7 } })).actions).toEqual([
      { type: "acknowledge", payload: { n: 7 } },
    ]);
  });

  it.each([
    ["invalid JSON", "{"],
    ["an unknown type", frame({ type: "hello" })],
    ["a server message", frame({ type: "next", id: "1", payload: {} })],
    ["subscribe without payload", frame({ type: "subscribe", id: "1" })],
    ["subscribe with an empty id", frame({ type: "subscribe", id: "", payload: { query: "" } })],
    ["subscribe with a 65-char id", frame({ type: "subscribe", id: "x".repeat(65), payload: { query: "" } })],
    ["a non-object payload", frame({ type: "connection_init", payload: "token" })],
  ])("closes 4400 on %s", (_, data) => {
    expect(closeOf(onFrame(ready, data).actions)).toMatchObject({ code: Close.BadRequest });
  });

  it("closes binary frames with 4400 and oversized frames with 1009", () => {
    expect(closeOf(onFrame(ready, new ArrayBuffer(4)).actions)?.code).toBe(Close.BadRequest);
    expect(closeOf(onFrame(ready, " ".repeat(MAX_FRAME_CHARS + 1)).actions)?.code).toBe(Close.MessageTooBig);
  });
});
