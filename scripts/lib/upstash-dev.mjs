// A local stand-in for Upstash Redis's REST API, in front of a real Redis (scripts/lib/redis.mjs), for `npm start`
// and the tests. Plain Node (no dependencies). Follows https://upstash.com/docs/redis/features/restapi and what
// `@upstash/redis` expects of it:
//
//   POST /            body ["CMD", arg, …]          → 200 {"result": …} | 400 {"error": "ERR …"}
//   POST /pipeline    body [["CMD", …], …]         → 200 [{"result": …} | {"error": …}, …] (not atomic)
//   POST /multi-exec  body [["CMD", …], …]         → 200 [{"result": …} | {"error": …}, …] (MULTI/EXEC), or
//                                                     400 {"error": …} when Redis discards the whole transaction
//   GET|POST|PUT|HEAD /cmd/arg/…?OPT=value         → the path form; a POST/PUT body is the last argument
//
// Auth is `Authorization: Bearer <token>` or `?_token=`; otherwise 401 {"error":"WRONGPASS invalid or missing auth
// token"}. With `Upstash-Encoding: base64` every string in a result is base64 (its raw bytes), except a bare "OK"
// status; errors, integers and nulls are never encoded. Without it, strings are UTF-8 (invalid bytes become U+FFFD).
// Integers are written as JSON numbers digit for digit (beyond 2^53 too, as Upstash does).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { DEFAULT_REDIS_PORT, RedisConnection } from "./redis.mjs";

export const DEFAULT_UPSTASH_DEV_PORT = 56380;
/** Upstash's max request size on its Free and Pay-as-you-go plans (1 MB); larger plans allow more. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

const HOST = "127.0.0.1";
/** @typedef {import("./resp.mjs").RedisReply} RedisReply */
/** @typedef {import("./resp.mjs").RedisCommand} RedisCommand */
/** A status and the JSON text of the answer. @typedef {[status: number, json: string]} Answer */

/**
 * The running dev server.
 * @typedef {object} RunningUpstashDev
 * @property {string} url `http://127.0.0.1:<port>`: the value for `UPSTASH_REDIS_REST_URL`.
 * @property {string} token The bearer token it accepts: the value for `UPSTASH_REDIS_REST_TOKEN`.
 * @property {number} port
 * @property {() => Promise<void>} stop Closes the HTTP server (and its open connections) and the Redis connections.
 */

const log = (/** @type {string} */ msg) => process.stderr.write(`[upstash-dev] ${msg}\n`);
const WRONGPASS = "WRONGPASS invalid or missing auth token";
const METHODS = new Set(["GET", "HEAD", "POST", "PUT"]); // Upstash answers anything else with 405

// Commands that would change or block a pooled connection's state for the requests that share it. Upstash has
// no such connections to protect; it offers transactions through /multi-exec and pub/sub through SSE endpoints.
const REFUSED = new Set(
  (
    "multi exec discard watch unwatch select subscribe psubscribe ssubscribe unsubscribe punsubscribe sunsubscribe " +
    "monitor quit reset hello auth client sync psync replconf replicaof slaveof failover shutdown debug module"
  ).split(" "),
);
const BLOCKING = new Set("blpop brpop brpoplpush blmove blmpop bzpopmin bzpopmax bzmpop wait waitaof".split(" "));

class RequestError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * A command from a JSON body: a non-empty array of strings, numbers and booleans (as Upstash's clients send).
 * @param {unknown} value
 * @returns {RedisCommand}
 */
function toCommand(value) {
  if (!Array.isArray(value) || value.length === 0 || typeof value[0] !== "string") {
    throw new RequestError(400, "ERR a command must be a non-empty JSON array starting with the command name");
  }
  for (const arg of value) {
    if (!["string", "number", "boolean"].includes(typeof arg)) {
      throw new RequestError(400, "ERR command arguments must be strings, numbers or booleans");
    }
  }
  return value;
}

/**
 * @param {Buffer} body
 * @returns {unknown}
 */
function parseJson(body) {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new RequestError(400, "ERR failed to parse the request body as JSON");
  }
}

/**
 * The path form: `/set/foo/bar?EX=100` → SET foo bar EX 100; a body is appended before the query's options.
 * @param {URL} url
 * @param {Buffer} body
 * @returns {RedisCommand}
 */
function pathCommand(url, body) {
  let segments = url.pathname.slice(1).split("/");
  if (segments.at(-1) === "") segments = segments.slice(0, -1);
  /** @type {Array<string | Buffer>} */
  let args;
  try {
    args = segments.map((s) => decodeURIComponent(s));
  } catch {
    throw new RequestError(400, "ERR malformed percent-encoding in the path");
  }
  if (body.length > 0) args.push(body);
  for (const [key, value] of url.searchParams) {
    if (key === "_token") continue;
    args.push(key);
    if (value !== "") args.push(value);
  }
  if (args.length === 0 || args[0] === "") throw new RequestError(400, "ERR no command given");
  return args;
}

const nameOf = (/** @type {RedisCommand} */ command) => String(command[0]).toLowerCase();
const refusal = (/** @type {RedisCommand} */ command) =>
  REFUSED.has(nameOf(command)) ? `ERR Command is not allowed by the dev server: '${nameOf(command)}'` : null;
const isBlocking = (/** @type {RedisCommand} */ command) =>
  BLOCKING.has(nameOf(command)) ||
  (["xread", "xreadgroup"].includes(nameOf(command)) && command.some((a) => String(a).toUpperCase() === "BLOCK"));

/**
 * A reply as JSON text: integers verbatim, bulk strings as base64 or UTF-8, nested errors as their text.
 * @param {RedisReply} reply
 * @param {boolean} base64
 * @returns {string}
 */
function toJson(reply, base64, top = true) {
  if (reply === null) return "null";
  if (typeof reply === "bigint") return reply.toString();
  if (Buffer.isBuffer(reply)) return JSON.stringify(reply.toString(base64 ? "base64" : "utf8"));
  if (Array.isArray(reply)) {
    const items = /** @type {RedisReply[]} */ (reply);
    return `[${items.map((r) => toJson(r, base64, false)).join(",")}]`;
  }
  const text = "status" in reply ? reply.status : reply.error;
  // The client decodes a top-level "OK" as is and every other string from base64.
  if (!base64 || (top && "status" in reply && reply.status === "OK")) return JSON.stringify(text);
  return JSON.stringify(Buffer.from(text, "utf8").toString("base64"));
}

const entry = (/** @type {RedisReply} */ reply, /** @type {boolean} */ base64) =>
  reply !== null && typeof reply === "object" && "error" in reply
    ? `{"error":${JSON.stringify(reply.error)}}`
    : `{"result":${toJson(reply, base64)}}`;

/**
 * Reads the body; past `limit` bytes the rest is read and dropped (so the client still gets our answer).
 * @param {import("node:http").IncomingMessage} req
 * @param {number} limit
 * @returns {Promise<Buffer>}
 */
function readBody(req, limit) {
  return new Promise((ok, fail) => {
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    req.on("data", (/** @type {Buffer} */ chunk) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.once("end", () =>
      size > limit ? fail(new RequestError(400, "ERR max request size exceeded")) : ok(Buffer.concat(chunks)),
    );
    req.once("error", fail);
    req.once("close", () => fail(new RequestError(400, "ERR the request was aborted"))); // no-op after "end"
  });
}

/**
 * A few pipelined connections; each batch goes whole to the least busy one (a new one while under `size`).
 * @param {number} redisPort
 * @param {number} size
 */
function createPool(redisPort, size) {
  /** @type {RedisConnection[]} */
  let conns = [];
  return {
    pick() {
      conns = conns.filter((c) => c.alive);
      let best = conns.reduce(
        (/** @type {RedisConnection | undefined} */ a, c) => (a === undefined || c.pending < a.pending ? c : a),
        undefined,
      );
      if (best === undefined || (best.pending > 0 && conns.length < size)) {
        best = new RedisConnection({ port: redisPort });
        conns.push(best);
      }
      return best;
    },
    close() {
      for (const c of conns) c.close();
      conns = [];
    },
  };
}

/**
 * Starts the REST server on 127.0.0.1:`port` (0: any free port) in front of Redis on 127.0.0.1:`redisPort`.
 * `token` defaults to a random one. Resolves once listening with `{ url, token, port, stop() }`.
 * @param {object} [opts]
 * @param {number} [opts.redisPort] Default {@link DEFAULT_REDIS_PORT}.
 * @param {number} [opts.port] Default {@link DEFAULT_UPSTASH_DEV_PORT}; 0 picks a free port.
 * @param {string} [opts.token] Default: a random one.
 * @param {number} [opts.maxRequestBytes] Default {@link MAX_REQUEST_BYTES}; larger bodies get 400
 *   `ERR max request size exceeded`.
 * @param {number} [opts.poolSize] Pipelined Redis connections shared by all requests (default 4).
 * @param {boolean} [opts.verbose] Logs one line per request to stderr.
 * @returns {Promise<RunningUpstashDev>}
 */
export async function startUpstashDev({
  redisPort = DEFAULT_REDIS_PORT,
  port = DEFAULT_UPSTASH_DEV_PORT,
  token = randomBytes(24).toString("base64url"),
  maxRequestBytes = MAX_REQUEST_BYTES,
  poolSize = 4,
  verbose = false,
} = {}) {
  const pool = createPool(redisPort, poolSize);
  const digest = (/** @type {string} */ s) => createHash("sha256").update(s).digest();
  const expected = digest(token);

  /**
   * Sends a batch on a pooled connection, or on one of its own when a command may block.
   * @param {RedisCommand[]} commands
   */
  async function send(commands) {
    if (!commands.some(isBlocking)) return pool.pick().send(commands);
    const conn = new RedisConnection({ port: redisPort });
    try {
      return await conn.send(commands);
    } finally {
      conn.close();
    }
  }

  /**
   * @param {RedisCommand[]} commands
   * @param {boolean} base64
   * @returns {Promise<Answer>}
   */
  async function pipeline(commands, base64) {
    const allowed = commands.filter((c) => refusal(c) === null);
    const replies = await send(allowed);
    let next = 0;
    const entries = commands.map((c) => {
      const refused = refusal(c);
      return refused ? `{"error":${JSON.stringify(refused)}}` : entry(replies[next++] ?? null, base64);
    });
    return [200, `[${entries.join(",")}]`];
  }

  /**
   * @param {RedisCommand[]} commands
   * @param {boolean} base64
   * @returns {Promise<Answer>}
   */
  async function transaction(commands, base64) {
    for (const c of commands) {
      const refused = refusal(c);
      if (refused) return [400, `{"error":${JSON.stringify(refused)}}`];
    }
    const replies = await send([["MULTI"], ...commands, ["EXEC"]]);
    // Queued commands answer QUEUED or an error; one error (unknown command, wrong arity…) discards them all.
    const rejected = replies.slice(1, -1).find(
      /** @returns {r is { error: string }} */
      (r) => r !== null && typeof r === "object" && "error" in r,
    );
    const exec = replies.at(-1) ?? null;
    if (rejected) return [400, `{"error":${JSON.stringify(rejected.error)}}`];
    if (!Array.isArray(exec)) return [400, entry(exec === null ? { error: "ERR transaction aborted" } : exec, base64)];
    const results = /** @type {RedisReply[]} */ (exec);
    return [200, `[${results.map((r) => entry(r, base64)).join(",")}]`];
  }

  /**
   * @param {import("node:http").IncomingMessage} req
   * @returns {Promise<Answer>}
   */
  async function handle(req) {
    if (!METHODS.has(req.method ?? "")) throw new RequestError(405, `ERR method not allowed: ${req.method}`);
    const url = new URL(req.url ?? "/", `http://${HOST}`);
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1];
    const given = bearer ?? url.searchParams.get("_token");
    if (given === null || given === undefined || !timingSafeEqual(digest(given), expected)) {
      throw new RequestError(401, WRONGPASS);
    }
    const body = await readBody(req, maxRequestBytes);
    const format = String(req.headers["upstash-response-format"] ?? "json").toLowerCase();
    if (format !== "json") throw new RequestError(400, `ERR the dev server answers only JSON, not '${format}'`);
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";

    if (url.pathname === "/pipeline" || url.pathname === "/multi-exec") {
      if (req.method !== "POST") throw new RequestError(405, `ERR ${url.pathname} takes POST`);
      const value = parseJson(body);
      if (!Array.isArray(value) || value.length === 0) {
        throw new RequestError(400, "ERR the body must be a non-empty JSON array of commands");
      }
      const commands = value.map(toCommand);
      return url.pathname === "/pipeline" ? pipeline(commands, base64) : transaction(commands, base64);
    }
    const command = url.pathname === "/" ? toCommand(parseJson(body)) : pathCommand(url, body);
    const refused = refusal(command);
    if (refused) throw new RequestError(400, refused);
    const [reply = null] = await send([command]);
    const isError = reply !== null && typeof reply === "object" && "error" in reply;
    return [isError ? 400 : 200, entry(reply, base64)];
  }

  const server = createServer((req, res) => {
    const started = Date.now();
    handle(req)
      .catch(
        /** @returns {Answer} */
        (/** @type {Error} */ err) => {
          if (err instanceof RequestError) return [err.status, `{"error":${JSON.stringify(err.message)}}`];
          log(`${req.method} ${req.url?.split("?")[0]}: ${err.stack ?? err}`); // the query may hold _token
          return [500, `{"error":${JSON.stringify(`ERR upstash-dev: ${err.message}`)}}`];
        },
      )
      .then(([status, json]) => {
        if (verbose) log(`${req.method} ${req.url?.split("?")[0]} → ${status} (${Date.now() - started} ms)`);
        res.writeHead(status, { "content-type": "application/json" }).end(json);
      });
  });
  await /** @type {Promise<void>} */ (
    new Promise((ok, fail) => {
      server.once("error", fail);
      server.listen(port, HOST, () => ok());
    })
  );
  const address = server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  const url = `http://${HOST}:${actualPort}`;
  log(`ready on ${url} → Redis on ${HOST}:${redisPort}`);
  return {
    url,
    token,
    port: actualPort,
    async stop() {
      server.closeAllConnections();
      await /** @type {Promise<void>} */ (new Promise((ok) => server.close(() => ok())));
      pool.close();
    },
  };
}
