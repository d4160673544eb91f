import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { CoherenceError, type CoherenceEvent, createCoherenceClient } from "../src/index.ts";
import { classifyEnd } from "../src/subscribe.ts";

/** What the scripted realtime server does on connection number `n` (0-based) after subscribe. */
interface ConnectionScript {
  /** Send at most this many events, then act (default: all). */
  events?: number;
  after?: "drop" | "close-1013" | "close-4403" | "cursor-expired" | "stay" | "mute";
}

const EVENTS: CoherenceEvent[] = Array.from({ length: 6 }, (_, i) => ({
  id: `s-${i}`,
  type: "latency",
  value: 0.5,
  weight: 1,
  source: "probe",
  ts: "2026-12-04T00:00:00.000Z",
  cursor: `c${i + 1}`,
}));

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    await new Promise((ok) => s.close(ok));
  }
});

/** A graphql-transport-ws server speaking just enough of the protocol, and the fetch for its tickets. */
async function realtimeServer(scripts: ConnectionScript[]) {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", handleProtocols: () => "graphql-transport-ws" });
  servers.push(wss);
  await new Promise((ok) => wss.once("listening", ok));
  const port = (wss.address() as AddressInfo).port;
  const seen = { tickets: [] as string[], afters: [] as Array<string | undefined>, auth: [] as unknown[] };
  let connections = 0;
  wss.on("connection", (socket, req) => {
    const script = scripts[connections++] ?? { after: "stay" };
    seen.tickets.push(new URL(req.url ?? "", "http://x").searchParams.get("ticket") ?? "");
    socket.on("message", (data) => {
      const msg = JSON.parse(String(data)) as { type: string; id?: string; payload?: Record<string, unknown> };
      if (msg.type === "connection_init") {
        seen.auth.push(msg.payload?.authorization);
        socket.send(JSON.stringify({ type: "connection_ack" }));
      } else if (msg.type === "ping") {
        if (script.after !== "mute") socket.send(JSON.stringify({ type: "pong" }));
      } else if (msg.type === "subscribe") {
        const vars = msg.payload?.variables as { after?: string };
        seen.afters.push(vars.after);
        if (script.after === "cursor-expired") {
          socket.send(
            JSON.stringify({
              type: "error",
              id: msg.id,
              payload: [{ message: "too old", extensions: { code: "CURSOR_EXPIRED" } }],
            }),
          );
          return;
        }
        const from = vars.after === undefined ? 0 : EVENTS.findIndex((e) => e.cursor === vars.after) + 1;
        const batch = EVENTS.slice(from, from + (script.events ?? EVENTS.length));
        for (const e of batch)
          socket.send(JSON.stringify({ type: "next", id: msg.id, payload: { data: { coherenceEvents: e } } }));
        if (script.after === "drop") socket.terminate();
        if (script.after === "close-1013") socket.close(1013, "too far behind");
        if (script.after === "close-4403") socket.close(4403, "Forbidden");
      }
    });
  });
  let tickets = 0;
  const fetchImpl = (async (input: RequestInfo | URL) => {
    if (String(input).endsWith("/v1/tenants/acme/realtime-tickets")) {
      return new Response(JSON.stringify({ ticket: `tk-${++tickets}`, expiresAt: "2026-12-04T00:01:00.000Z" }), {
        status: 201,
      });
    }
    return new Response("{}", { status: 404 });
  }) as typeof fetch;
  const client = (realtime: Record<string, number> = {}) =>
    createCoherenceClient({
      url: `http://127.0.0.1:${port}`,
      token: "jwt",
      fetch: fetchImpl,
      retry: { baseDelayMs: 10, maxDelayMs: 20 },
      realtime: { webSocketImpl: WebSocket, ...realtime },
    });
  return { seen, client };
}

function until(cond: () => boolean, ms = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((ok, fail) => {
    const tick = () => {
      if (cond()) return ok();
      if (Date.now() - start > ms) return fail(new Error("timed out"));
      setTimeout(tick, 5);
    };
    tick();
  });
}

describe("subscribe", () => {
  it("resumes after the last delivered cursor when the connection drops, with a fresh ticket each time", async () => {
    const srv = await realtimeServer([
      { events: 2, after: "drop" },
      { events: 2, after: "close-1013" },
      { after: "stay" },
    ]);
    const got: string[] = [];
    const reconnects: string[] = [];
    const sub = srv
      .client()
      .subscribe("acme", { event: (e) => got.push(e.id), reconnecting: (i) => reconnects.push(i.reason) }, {});
    await until(() => got.length === EVENTS.length);
    expect(got).toEqual(EVENTS.map((e) => e.id));
    expect(srv.seen.afters).toEqual([undefined, "c2", "c4"]);
    expect(srv.seen.tickets).toEqual(["tk-1", "tk-2", "tk-3"]);
    expect(srv.seen.auth).toEqual(["Bearer jwt", "Bearer jwt", "Bearer jwt"]);
    expect(reconnects).toHaveLength(2);
    expect(sub.cursor).toBe("c6");
    sub.unsubscribe();
  });

  it("starts after a given cursor", async () => {
    const srv = await realtimeServer([{ after: "stay" }]);
    const got: string[] = [];
    const sub = srv.client().subscribe("acme", { event: (e) => got.push(e.id) }, { after: "c4" });
    await until(() => got.length === 2);
    expect(got).toEqual(["s-4", "s-5"]);
    sub.unsubscribe();
  });

  it("finds a silent peer by its missing pong and reconnects", async () => {
    const srv = await realtimeServer([{ events: 1, after: "mute" }, { after: "stay" }]);
    const got: string[] = [];
    const sub = srv.client({ keepAliveMs: 50, pongTimeoutMs: 100 }).subscribe("acme", { event: (e) => got.push(e.id) });
    await until(() => got.length === EVENTS.length);
    expect(got).toEqual(EVENTS.map((e) => e.id));
    expect(srv.seen.afters).toEqual([undefined, "c1"]);
    sub.unsubscribe();
  });

  it("ends with CURSOR_EXPIRED (events were missed) instead of reconnecting", async () => {
    const srv = await realtimeServer([{ after: "cursor-expired" }]);
    const errors: CoherenceError[] = [];
    srv.client().subscribe("acme", { event: () => {}, error: (e) => errors.push(e) }, { after: "c1" });
    await until(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ code: "CURSOR_EXPIRED" });
    await new Promise((ok) => setTimeout(ok, 100));
    expect(srv.seen.afters).toHaveLength(1);
  });

  it("ends with FORBIDDEN on close 4403", async () => {
    const srv = await realtimeServer([{ events: 0, after: "close-4403" }]);
    const errors: CoherenceError[] = [];
    srv.client().subscribe("acme", { event: () => {}, error: (e) => errors.push(e) });
    await until(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ code: "FORBIDDEN" });
  });
});

describe("classifyEnd", () => {
  it("reconnects on network closes and 1013, stops on 4400/4403 and on refusals of the request", () => {
    expect(classifyEnd({ code: 1006, reason: "" }).fatal).toBe(false);
    expect(classifyEnd({ code: 1013, reason: "behind" }).fatal).toBe(false);
    expect(classifyEnd({ code: 4403, reason: "" })).toMatchObject({ fatal: true, error: { code: "FORBIDDEN" } });
    expect(classifyEnd({ code: 4400, reason: "" }).fatal).toBe(true);
    expect(classifyEnd([{ message: "x", extensions: { code: "BAD_CURSOR" } }]).fatal).toBe(true);
    expect(classifyEnd(new Error("socket hang up")).fatal).toBe(false);
    expect(classifyEnd(new CoherenceError("FORBIDDEN", "x", { status: 403 })).fatal).toBe(true);
    expect(classifyEnd(new CoherenceError("RATE_LIMITED", "x", { status: 429, retryable: true })).fatal).toBe(false);
  });
});
