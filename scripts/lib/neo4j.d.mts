// Types for neo4j.mjs (plain JavaScript so it runs on the system Node), for the TypeScript tests.

export declare const NEO4J_TEST_USER: string;
export declare const NEO4J_TEST_PASSWORD: string;

export interface RunningNeo4j {
  /** `http://127.0.0.1:<port>`; the Query API is `POST {httpUrl}/db/{database}/query/v2`. */
  httpUrl: string;
  /** `bolt://127.0.0.1:<port>` */
  boltUrl: string;
  /** Basic auth: user `neo4j`. */
  user: string;
  password: string;
  /** Always `neo4j` (Community has one user database). */
  database: string;
  /** The JVM's process id. */
  pid: number;
  /** What the JVM printed. */
  output(): string;
  /** Settles when the JVM exits, for whatever reason. */
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** Stops the JVM (SIGTERM, SIGKILL after 60 s) and removes the store directory it made. */
  stop(): Promise<void>;
}

/** Builds tools/neo4j-harness with Maven into .cache/ when missing or stale; returns the java classpath. */
export declare function ensureNeo4jHarness(): Promise<string>;
/** Starts Neo4j 5.26 Community on 127.0.0.1; ports default to 0 (any free port). */
export declare function startNeo4j(opts?: {
  httpPort?: number;
  boltPort?: number;
  dataDir?: string;
  timeoutMs?: number;
  /** "test" (default): fast start, C1 only, 512 MB; "server": the normal compiler and a 2 GB heap. */
  profile?: "test" | "server";
}): Promise<RunningNeo4j>;
