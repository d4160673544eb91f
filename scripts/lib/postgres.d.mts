// Types for postgres.mjs (plain JavaScript so it runs on the system Node), for the TypeScript tests.

export declare const DEFAULT_PG_PORT: number;
export declare const DEFAULT_WSPROXY_PORT: number;
export declare const PG_USER: string;
export declare const PG_PASSWORD: string;
export declare const PG_DATABASE: string;

export interface RunningPostgres {
  /** `postgres://coherence:coherence@127.0.0.1:<port>/coherence` */
  url: string;
  port: number;
  dataDir: string;
  /** `pg_ctl -m fast stop`; a no-op when it is not running. */
  stop(): Promise<void>;
}

export interface RunningWsproxy {
  /** The value for `neonConfig.wsProxy`: `127.0.0.1:<port>/v1` (the driver appends `?address=<host>:<port>`). */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Installs Debian's postgresql when missing; returns the server's bin directory (initdb, pg_ctl, psql). */
export declare function ensurePostgresInstalled(): Promise<string>;
export declare function startPostgres(opts: { dataDir: string; port?: number }): Promise<RunningPostgres>;
export declare function startWsproxy(opts: {
  pgPort?: number;
  port?: number;
  verbose?: boolean;
}): Promise<RunningWsproxy>;
