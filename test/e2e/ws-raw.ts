// A raw graphql-transport-ws client over `ws` for the realtime e2e tests (docs/api.md §4.5): speaks the protocol by
// hand, so tests can send what the stock client never would and play a dead or slow peer.
import WebSocket from "ws";
import { Inbox, within } from "./ws-wait";

export const SUBPROTOCOL = "graphql-transport-ws";

/** `ws://…/v1/tenants/{tenantId}/graphql` for a service base URL. */
export function realtimeUrl(baseUrl: string, tenantId: string): string {
  return `${baseUrl.replace(/^http/, "ws")}/v1/tenants/${encodeURIComponent(tenantId)}/graphql`;
}

/** A graphql-transport-ws message as it arrives. */
export interface Frame {
  type: string;
  id?: string;
  payload?: unknown;
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** Milliseconds from the upgrade (the client receiving `101 Switching Protocols`) to the close event. */
  afterMs: number;
  /** Milliseconds from just before the upgrade request was sent (includes connection set-up). */
  afterRequestMs: number;
}

/**
 * How long the raw client waits for the server to end TCP after a close frame arrived before it drops the
 * connection itself: short, so the `close` event marks the close frame's arrival (RUNTIME-NOTES: a hibernated
 * socket's close frame leaves on time but its TCP connection may linger ~10 s).
 */
export const RAW_CLOSE_TIMEOUT_MS = 100;

/** A raw graphql-transport-ws connection driven by hand. It never answers the server's pings by itself. */
export class RawSocket {
  readonly frames = new Inbox<Frame>();
  readonly closed: Promise<CloseInfo>;
  private upgradedAt: number | null = null;

  private constructor(
    readonly ws: WebSocket,
    readonly startedAt: number,
  ) {
    ws.on("upgrade", () => {
      this.upgradedAt = Date.now();
    });
    this.closed = new Promise<CloseInfo>((ok) => {
      ws.on("close", (code, reason) => {
        const now = Date.now();
        const info = {
          code,
          reason: reason.toString("utf8"),
          afterMs: now - (this.upgradedAt ?? startedAt),
          afterRequestMs: now - startedAt,
        };
        this.frames.end(info);
        ok(info);
      });
    });
    ws.on("message", (data) => {
      const text = data.toString("utf8");
      try {
        this.frames.push(JSON.parse(text) as Frame);
      } catch {
        this.frames.push({ type: "<not json>", payload: text });
      }
    });
  }

  /**
   * Opens a socket with the graphql-transport-ws subprotocol; resolves once the upgrade has succeeded. The upgrade
   * carries `bearer` as `Authorization: Bearer` (docs/api.md §4.5); a URL with `?ticket=` needs none.
   */
  static open(url: string, bearer?: string): Promise<RawSocket> {
    const startedAt = Date.now();
    const ws = new WebSocket(url, SUBPROTOCOL, {
      closeTimeout: RAW_CLOSE_TIMEOUT_MS,
      perMessageDeflate: false,
      ...(bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {}),
    });
    const raw = new RawSocket(ws, startedAt);
    return within(
      new Promise<RawSocket>((ok, fail) => {
        ws.on("open", () => ok(raw));
        ws.on("error", fail);
        ws.on("unexpected-response", (_req, res) => fail(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
      }),
      10_000,
      `the upgrade of ${url}`,
    );
  }

  /** Sends a message (objects as JSON, strings as they are). */
  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** `connection_init` with a bearer token; resolves on `connection_ack`. */
  async init(token: string): Promise<void> {
    this.send({ type: "connection_init", payload: { authorization: `Bearer ${token}` } });
    await this.frames.until((fs) => fs.some((f) => f.type === "connection_ack"), 10_000, "connection_ack");
  }

  /** Sends `subscribe` for `payload` under `id`. */
  subscribe(id: string, payload: { query: string } & Record<string, unknown>): void {
    this.send({ type: "subscribe", id, payload });
  }

  /** The first frame (past or future) that matches. */
  next(match: (f: Frame) => boolean, ms: number, what: string): Promise<Frame> {
    return this.frames.first(match, ms, what);
  }

  /** The close the server sends, within `ms`. */
  closedWithin(ms: number): Promise<CloseInfo> {
    return within(this.closed, ms, "the server to close the socket");
  }

  /** `next` data of subscription `id`, in arrival order. */
  dataOf<T>(id: string, field: string): T[] {
    return this.frames.items
      .filter((f) => f.id === id && f.type === "next")
      .map((f) => (f.payload as { data: Record<string, T> }).data[field] as T);
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/** Tries a WebSocket upgrade that the service is expected to refuse; returns the HTTP answer it gave instead. */
export function refusedUpgrade(
  url: string,
  bearer?: string,
): Promise<{ status: number; contentType: string; body: unknown }> {
  const ws = new WebSocket(url, SUBPROTOCOL, {
    perMessageDeflate: false,
    ...(bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {}),
  });
  return within(
    new Promise((ok, fail) => {
      ws.on("open", () => {
        ws.terminate();
        fail(new Error("the upgrade was accepted"));
      });
      ws.on("error", () => {}); // ws reports the refused upgrade as an error after `unexpected-response`
      ws.on("unexpected-response", (req, res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {}
          ok({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body });
          req.destroy();
        });
      });
    }),
    10_000,
    `the refused upgrade of ${url}`,
  );
}
