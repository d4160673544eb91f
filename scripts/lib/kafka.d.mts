// Types for kafka.mjs (plain JavaScript so it runs on the system Node), for the TypeScript tests.

export declare const KAFKA_VERSION: string;

export interface RunningKafka {
  /** `127.0.0.1:<port>`, the broker's PLAINTEXT listener (KAFKA_BROKERS). */
  brokers: string;
  port: number;
  /** The KRaft controller listener (not for clients). */
  controllerPort: number;
  /** Where the metadata and topic logs live; a restart on the same directory keeps them. */
  dataDir: string;
  /** The JVM's process id. */
  pid: number;
  /** What the broker logged (warnings and errors, plus its start line). */
  output(): string;
  /** Settles when the JVM exits, for whatever reason. */
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** Controlled shutdown (SIGTERM, SIGKILL after 30 s); removes the data directory when startKafka made it. */
  stop(): Promise<void>;
  /** SIGKILL, for crash tests; the data directory stays. */
  kill(): Promise<void>;
}

/** Downloads (once) and checks the broker's jars from Maven Central into .cache/; returns the java classpath. */
export declare function ensureKafka(): Promise<string>;

/** Starts Kafka in KRaft combined mode on 127.0.0.1; ports default to free ones. */
export declare function startKafka(opts?: {
  dataDir?: string;
  port?: number;
  controllerPort?: number;
  heapMb?: number;
  timeoutMs?: number;
  props?: Record<string, string>;
}): Promise<RunningKafka>;

/** Creates the topics that do not exist yet (one replica each). */
export declare function createTopics(
  brokers: string,
  topics: Array<{ name: string; partitions?: number }>,
): Promise<void>;
