// Sends fuzz cases to a running service: HTTP cases with fetch, raw ones over TCP, WebSocket sessions with `ws`;
// plus a bounded pool so a 2-core machine runs thousands of them without drowning the service.
import { connect } from "node:net";
import WebSocket from "ws";
import { authValue, type Tokens } from "./auth";
import { bodyOf } from "./bodies";
import type { HttpCase, WireCase } from "./http-cases";
import type { HttpAnswer } from "./http-oracle";
import { frameData, type WsCase } from "./ws-frames";

/** Runs `task` over `items` with at most `width` in flight. */
export async function pool<T>(items: readonly T[], width: number, task: (item: T, index: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) await task(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/** Sends an HTTP case; a network failure is thrown (the caller reports it as a crash). */
export async function sendHttp(baseUrl: string, c: HttpCase, tokens: Tokens): Promise<HttpAnswer> {
  const headers = new Headers();
  const auth = authValue(c.auth, tokens);
  if (auth !== undefined) headers.set("authorization", auth);
  for (const [k, v] of c.headers) headers.append(k, v);
  const res = await fetch(`${baseUrl}${c.path}`, {
    method: c.method,
    headers,
    body: c.body ? bodyOf(c.body) : undefined,
    redirect: "manual",
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  const headerText = [...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", headerText, text };
}

/** The bytes of a raw-socket case. */
export function wireBytes(c: WireCase, tokens: Tokens, host: string): Buffer {
  const body = Buffer.from(c.body, "utf8");
  const lines = [`POST ${c.path} HTTP/1.1`, `Host: ${host}`, "Connection: close"];
  const auth = authValue(c.auth, tokens);
  if (auth !== undefined) lines.push(`Authorization: ${auth}`);
  for (const [k, v] of c.headers) lines.push(`${k}: ${v}`);
  let payload = body;
  if (c.framing === "length") lines.push(`Content-Length: ${body.length}`);
  if (c.framing === "short-length") lines.push(`Content-Length: ${Math.max(0, body.length - c.n)}`);
  if (c.framing === "chunked" || c.framing === "length+chunked") {
    if (c.framing === "length+chunked") lines.push(`Content-Length: ${c.n}`);
    lines.push("Transfer-Encoding: chunked");
    const chunks: Buffer[] = [];
    for (let i = 0; i < body.length; i += c.n) {
      const part = body.subarray(i, i + c.n);
      chunks.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from("\r\n"));
    }
    payload = Buffer.concat([...chunks, Buffer.from("0\r\n\r\n")]);
  }
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), payload]);
}

/** Writes a raw-socket case and reads the first answer until the server closes (Connection: close). */
export function sendWire(baseUrl: string, c: WireCase, tokens: Tokens): Promise<HttpAnswer> {
  const { hostname, port, host } = new URL(baseUrl);
  return new Promise((ok, fail) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error("no answer within 30 s")), 30_000);
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", (err) => {
      clearTimeout(timer);
      fail(err);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString("latin1");
      const end = raw.indexOf("\r\n\r\n");
      const head = end === -1 ? raw : raw.slice(0, end);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      const contentType = /\r\ncontent-type:\s*([^\r]*)/i.exec(head)?.[1] ?? "";
      ok({ status, contentType, headerText: head, text: end === -1 ? "" : raw.slice(end + 4) });
    });
    socket.write(wireBytes(c, tokens, host));
  });
}

/** What a WebSocket session produced. */
export interface WsOutcome {
  /** The upgrade was refused with this HTTP answer. */
  refused: HttpAnswer | null;
  /** The server closed with this code. */
  closed: { code: number; reason: string } | null;
  /** The probe ping sent after the frames came back as a pong: the socket is open and answering. */
  answered: boolean;
  /** Every message the server sent, parsed (or `{ notJson: text }`). */
  received: unknown[];
  errors: string[];
  timedOut: boolean;
}

// The local `ws` typings (test/e2e/ws-module.d.ts) cover text sends only; ws 8 also takes bytes and an opcode flag.
type FrameSender = { send(data: string | Uint8Array, options: { binary: boolean }, cb: (err?: Error) => void): void };

/**
 * Opens `/v1/tenants/{tenant}/graphql`, sends the frames in order, then a ping with a unique payload; ends when the
 * server closes, or when the pong is back and `settled(received)` holds (or 3 s after the pong).
 */
export function runWs(
  baseUrl: string,
  c: WsCase,
  tokens: Tokens,
  probe: string,
  settled: (received: unknown[]) => boolean,
): Promise<WsOutcome> {
  const url = `${baseUrl.replace(/^http/, "ws")}/v1/tenants/${encodeURIComponent(c.tenant)}/graphql`;
  const out: WsOutcome = { refused: null, closed: null, answered: false, received: [], errors: [], timedOut: false };
  // Every upgrade carries the fuzzed tenant's read token (docs/api.md §4.5): what is fuzzed is the path, the
  // subprotocols and the frames; a path naming another (or no valid) tenant is refused 403/400 at the edge.
  const ws = new WebSocket(url, c.protocols, {
    perMessageDeflate: false,
    closeTimeout: 500,
    handshakeTimeout: 10_000,
    headers: { authorization: `Bearer ${tokens.read}` },
  });
  return new Promise<WsOutcome>((ok) => {
    let grace: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true; // terminate() below fires a local 1006 close: not the server's doing
      clearTimeout(timer);
      clearTimeout(grace);
      ws.terminate();
      ok(out);
    };
    const timer = setTimeout(() => {
      out.timedOut = true;
      finish();
    }, 20_000);
    let refusing = false;
    ws.on("unexpected-response", (req, res) => {
      refusing = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () => {
        const headerText = Object.entries(res.headers)
          .map(([k, v]) => `${k}: ${String(v)}`)
          .join("\n");
        out.refused = {
          status: res.statusCode ?? 0,
          contentType: String(res.headers["content-type"] ?? ""),
          headerText,
          text,
        };
        req.destroy();
        finish();
      });
    });
    ws.on("error", (err) => {
      if (!refusing && !done) out.errors.push(err.message);
    });
    ws.on("close", (code, reason) => {
      if (!refusing && !done) out.closed = { code, reason: reason.toString("utf8") };
      finish();
    });
    ws.on("message", (data) => {
      if (done) return;
      const text = data.toString("utf8");
      let msg: unknown;
      try {
        msg = JSON.parse(text);
      } catch {
        msg = { notJson: text.slice(0, 200) };
      }
      out.received.push(msg);
      const m = msg as { type?: unknown; payload?: { probe?: unknown } };
      if (m.type === "pong" && m.payload?.probe === probe && !out.answered) {
        out.answered = true;
        grace = setTimeout(finish, 3000);
      }
      if (out.answered && settled(out.received)) finish();
    });
    ws.on("open", () => {
      const sender = ws as unknown as FrameSender;
      const ignore = () => {};
      for (const frame of c.frames) {
        const data = frameData(frame, tokens);
        sender.send(data, { binary: frame.t === "binary" }, ignore);
      }
      sender.send(JSON.stringify({ type: "ping", payload: { probe } }), { binary: false }, ignore);
    });
  });
}
