// Types for redis.mjs (plain JavaScript so it runs on the system Node), for the TypeScript tests.

export declare const DEFAULT_REDIS_PORT: number;

/** A parsed RESP2 reply: status, error, integer, bulk string, nil or array. */
export type RedisReply = { status: string } | { error: string } | bigint | Buffer | null | RedisReply[];
/** One command: its name and arguments (numbers and booleans are sent as their text). */
export type RedisCommand = ReadonlyArray<string | number | boolean | Buffer>;

export interface RunningRedis {
  port: number;
  /** `redis://127.0.0.1:<port>` */
  url: string;
  /** The real path of the data directory (AOF in `appendonlydir/`, `redis.conf`, `redis.log`). */
  dataDir: string;
  /** The redis-server process id. */
  pid: number;
  /** Settles when the process exits, for whatever reason (signal and code unknown for a reused server). */
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** SHUTDOWN and wait for the exit (SIGKILL after 10 s); a no-op once it has exited or when it was reused. */
  stop(): Promise<void>;
}

/** Encodes commands as one RESP2 byte string. */
export declare function encodeCommands(commands: readonly RedisCommand[]): Buffer;
/** Parses one reply at `pos`: the value and where the next starts, or the buffer length that may complete it. */
export declare function parseReply(buf: Buffer, pos?: number): { value: RedisReply; next: number } | { need: number };

/** A pipelined RESP2 connection: each `send` is one write, answered in order. */
export declare class RedisConnection {
  constructor(opts: { port: number; host?: string });
  /** False once the socket failed or was closed; every waiting `send` then rejects. */
  readonly alive: boolean;
  /** Batches sent and not yet answered. */
  readonly pending: number;
  send(commands: readonly RedisCommand[]): Promise<RedisReply[]>;
  close(): void;
}

/** One command on a connection of its own. */
export declare function redisCommand(
  port: number,
  args: RedisCommand,
  opts?: { timeoutMs?: number },
): Promise<RedisReply>;
/** Installs Debian's redis-server when missing (needs root); returns `/usr/bin/redis-server`. */
export declare function ensureRedisInstalled(): Promise<string>;
/** Starts redis-server on 127.0.0.1:`port` with its files in `dataDir` (AOF, `appendfsync always`). */
export declare function startRedis(opts: { dataDir: string; port?: number }): Promise<RunningRedis>;
