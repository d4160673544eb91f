// Types for upstash-dev.mjs (plain JavaScript so it runs on the system Node), for the TypeScript tests.

export declare const DEFAULT_UPSTASH_DEV_PORT: number;
/** 1 MB: Upstash's max request size on its Free and Pay-as-you-go plans. */
export declare const MAX_REQUEST_BYTES: number;

export interface RunningUpstashDev {
  /** `http://127.0.0.1:<port>`: the value for `UPSTASH_REDIS_REST_URL`. */
  url: string;
  /** The bearer token it accepts: the value for `UPSTASH_REDIS_REST_TOKEN`. */
  token: string;
  port: number;
  /** Closes the HTTP server (and its open connections) and the Redis connections. */
  stop(): Promise<void>;
}

/** Starts Upstash's REST API on 127.0.0.1:`port` (0: any free port) in front of Redis on 127.0.0.1:`redisPort`. */
export declare function startUpstashDev(opts?: {
  /** Default {@link DEFAULT_REDIS_PORT}. */
  redisPort?: number;
  /** Default {@link DEFAULT_UPSTASH_DEV_PORT}; 0 picks a free port. */
  port?: number;
  /** Default: a random one. */
  token?: string;
  /** Default {@link MAX_REQUEST_BYTES}; larger bodies get 400 `ERR max request size exceeded`. */
  maxRequestBytes?: number;
  /** Pipelined Redis connections shared by all requests (default 4). */
  poolSize?: number;
  /** Logs one line per request to stderr. */
  verbose?: boolean;
}): Promise<RunningUpstashDev>;
