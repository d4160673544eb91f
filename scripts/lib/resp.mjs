// A small RESP2 client for our local Redis (scripts/lib/redis.mjs, scripts/lib/upstash-dev.mjs). Plain Node.
import { connect } from "node:net";

const HOST = "127.0.0.1";

// RESP2: requests are arrays of bulk strings; replies are parsed into
//   { status: string } | { error: string } | bigint (integer) | Buffer (bulk string) | null | Reply[] (array).

const CRLF = Buffer.from("\r\n");

/**
 * A parsed RESP2 reply: status, error, integer, bulk string, nil or array. (The array is spelled through an index
 * signature because a JSDoc type alias may not name itself directly.)
 * @typedef {{ status: string } | { error: string } | bigint | Buffer | null | RedisReplyArray} RedisReply
 * @typedef {Array<unknown> & { [index: number]: RedisReply }} RedisReplyArray
 */
/**
 * One command: its name and arguments (numbers and booleans are sent as their text).
 * @typedef {ReadonlyArray<string | number | boolean | Buffer>} RedisCommand
 */

/**
 * Encodes commands (arrays of strings, numbers, booleans or Buffers) as one RESP2 byte string.
 * @param {readonly RedisCommand[]} commands
 * @returns {Buffer}
 */
export function encodeCommands(commands) {
  const parts = [];
  for (const args of commands) {
    parts.push(Buffer.from(`*${args.length}\r\n`));
    for (const arg of args) {
      const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg), "utf8");
      parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
    }
  }
  return Buffer.concat(parts);
}

/**
 * Parses one reply at `pos`: `{ value, next }`, or `{ need }` (the buffer length that may complete it) when the
 * buffer ends first. Throws on bytes that are not RESP2.
 * @param {Buffer} buf
 * @param {number} [pos]
 * @returns {{ value: RedisReply; next: number } | { need: number }}
 */
export function parseReply(buf, pos = 0) {
  const end = buf.indexOf(CRLF, pos);
  if (end === -1) return { need: buf.length + 1 };
  const line = buf.toString("utf8", pos + 1, end);
  const next = end + 2;
  switch (buf[pos]) {
    case 0x2b: // +
      return { value: { status: line }, next };
    case 0x2d: // -
      return { value: { error: line }, next };
    case 0x3a: // :
      return { value: BigInt(line), next };
    case 0x24: {
      // $
      const len = Number(line);
      if (len < 0) return { value: null, next };
      if (buf.length < next + len + 2) return { need: next + len + 2 };
      return { value: buf.subarray(next, next + len), next: next + len + 2 };
    }
    case 0x2a: {
      // *
      const count = Number(line);
      if (count < 0) return { value: null, next };
      /** @type {RedisReply[]} */
      const items = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        /** @type {{ value: RedisReply; next: number } | { need: number }} */
        const item = parseReply(buf, at);
        if (!("value" in item)) return item;
        items.push(item.value);
        at = item.next;
      }
      return { value: items, next: at };
    }
    default:
      throw new Error(`not a RESP2 reply (type byte 0x${(buf[pos] ?? 0).toString(16)})`);
  }
}

/**
 * One TCP connection to Redis with pipelining: `send(commands)` writes a batch in a single write and resolves
 * with its replies. Redis answers one connection's commands in order, so replies are matched to batches first
 * in, first out, and concurrent batches never mix. A batch is contiguous on the wire, so MULTI…EXEC sent as one
 * batch is a transaction even on a shared connection. Once the socket fails, every waiting batch rejects and
 * `alive` is false.
 */
export class RedisConnection {
  /** False once the socket failed or was closed; every waiting `send` then rejects. */
  alive = true;
  /** @type {import("node:net").Socket} */
  #socket;
  /** @type {Buffer[]} */
  #chunks = [];
  #length = 0;
  #need = 0;
  /** @type {Array<{ count: number; replies: RedisReply[]; resolve: (replies: RedisReply[]) => void; reject: (err: unknown) => void }>} */
  #waiting = [];

  /** @param {{ port: number; host?: string }} opts */
  constructor({ port, host = HOST }) {
    this.#socket = connect({ host, port });
    this.#socket.setNoDelay(true);
    this.#socket.on("data", (chunk) => this.#onData(chunk));
    this.#socket.on("error", (err) => this.#fail(err));
    this.#socket.on("close", () => this.#fail(new Error(`connection to Redis on ${host}:${port} closed`)));
  }

  /** Batches sent and not yet answered. */
  get pending() {
    return this.#waiting.length;
  }

  /**
   * Writes the batch in one write; resolves with its replies, in order.
   * @param {readonly RedisCommand[]} commands
   * @returns {Promise<RedisReply[]>}
   */
  send(commands) {
    if (!this.alive) return Promise.reject(new Error("connection to Redis is closed"));
    if (commands.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ count: commands.length, replies: [], resolve, reject });
      this.#socket.write(encodeCommands(commands));
    });
  }

  close() {
    this.#fail(new Error("connection to Redis closed by us"));
  }

  /** @param {Buffer} chunk */
  #onData(chunk) {
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    if (this.#length < this.#need) return; // a long bulk string still arriving: parse once it is all here
    let buf = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks, this.#length);
    let pos = 0;
    try {
      while (pos < buf.length) {
        const parsed = parseReply(buf, pos);
        if (!("value" in parsed)) {
          this.#need = parsed.need - pos;
          break;
        }
        pos = parsed.next;
        this.#deliver(parsed.value);
      }
    } catch (err) {
      this.#fail(err);
      return;
    }
    buf = buf.subarray(pos);
    this.#chunks = buf.length > 0 ? [buf] : [];
    this.#length = buf.length;
    if (buf.length === 0) this.#need = 0;
  }

  /** @param {RedisReply} reply */
  #deliver(reply) {
    const batch = this.#waiting[0];
    if (!batch) throw new Error("Redis sent a reply nobody asked for");
    batch.replies.push(reply);
    if (batch.replies.length === batch.count) {
      this.#waiting.shift();
      batch.resolve(batch.replies);
    }
  }

  /** @param {unknown} err */
  #fail(err) {
    this.alive = false;
    this.#socket.destroy();
    for (const batch of this.#waiting.splice(0)) batch.reject(err);
  }
}

/**
 * Runs one command on a connection of its own and resolves with its reply (rejects after `timeoutMs`).
 * @param {number} port
 * @param {RedisCommand} args
 * @param {{ timeoutMs?: number }} [opts]
 * @returns {Promise<RedisReply>}
 */
export async function redisCommand(port, args, { timeoutMs = 2000 } = {}) {
  const conn = new RedisConnection({ port });
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  try {
    /** @type {Promise<never>} */
    const timeout = new Promise((_, fail) => {
      timer = setTimeout(
        () => fail(new Error(`Redis on ${HOST}:${port} did not answer in ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    const [reply] = await Promise.race([conn.send([args]), timeout]);
    return reply ?? null;
  } finally {
    clearTimeout(timer);
    conn.close();
  }
}
