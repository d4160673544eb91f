// The part of the `ws` package (a devDependency without bundled types; @types/ws is not installed) that the
// realtime e2e tests use. Kept to the documented API of ws 8: https://github.com/websockets/ws/blob/master/doc/ws.md
declare module "ws" {
  import type { ClientRequest, IncomingMessage } from "node:http";

  namespace WebSocket {
    interface ClientOptions {
      /** Milliseconds to wait for the closing handshake after `close()` before destroying the socket (default 30000). */
      closeTimeout?: number;
      handshakeTimeout?: number;
      perMessageDeflate?: boolean;
      /** Extra headers of the upgrade request (e.g. `authorization`). */
      headers?: Record<string, string>;
    }
  }

  class WebSocket {
    static readonly CONNECTING: 0;
    static readonly OPEN: 1;
    static readonly CLOSING: 2;
    static readonly CLOSED: 3;
    constructor(address: string, protocols?: string | string[], options?: WebSocket.ClientOptions);
    readonly readyState: 0 | 1 | 2 | 3;
    readonly protocol: string;
    readonly isPaused: boolean;
    send(data: string, cb?: (err?: Error) => void): void;
    close(code?: number, reason?: string): void;
    terminate(): void;
    /** Stops reading from the socket (no more `message` events; TCP back-pressure builds up). */
    pause(): void;
    resume(): void;
    on(event: "open", listener: () => void): this;
    on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): this;
    on(event: "close", listener: (code: number, reason: Buffer) => void): this;
    on(event: "error", listener: (err: Error) => void): this;
    on(event: "upgrade", listener: (res: IncomingMessage) => void): this;
    on(event: "unexpected-response", listener: (req: ClientRequest, res: IncomingMessage) => void): this;
  }

  export default WebSocket;
}
