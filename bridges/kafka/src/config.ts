// The bridge's settings, parsed once from the environment (docs/kafka-bridge.md names the KAFKA_* and INGEST_* ones; the
// BRIDGE_* ones tune batching, backpressure and operations and have defaults).
import { z } from "zod";

const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

const schema = z
  .object({
    KAFKA_BROKERS: z
      .string()
      .min(1, "KAFKA_BROKERS is required (comma-separated host:port)")
      .transform((s) =>
        s
          .split(",")
          .map((b) => b.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^[^\s:]+:\d+$/, "each broker is host:port")).min(1)),
    KAFKA_TOPIC: z.string().min(1).default("coherence.signals.v1"),
    KAFKA_GROUP_ID: z.string().min(1).default("coherence-bridge"),
    KAFKA_DLQ_TOPIC: z.string().min(1).default("coherence.signals.v1.dlq"),
    KAFKA_CLIENT_ID: z.string().min(1).default("coherence-bridge"),
    /** Static group membership: a restarted bridge with the same id takes its partitions back without a rebalance. */
    KAFKA_GROUP_INSTANCE_ID: z.string().min(1).optional(),
    KAFKA_SESSION_TIMEOUT_MS: int(6000, 1_800_000, 10_000),
    INGEST_URL: z.url("INGEST_URL must be the service's base URL, e.g. http://127.0.0.1:8787"),
    INGEST_TOKEN: z.string().min(1).optional(),
    INGEST_TOKENS_FILE: z.string().min(1).optional(),
    /** OAuth client credentials per tenant (contract §10, v2): the issuer and a file of one client per tenant. */
    INGEST_OAUTH_ISSUER: z.url("INGEST_OAUTH_ISSUER must be the authorization server's issuer URL").optional(),
    INGEST_OAUTH_CLIENTS_FILE: z.string().min(1).optional(),
    INGEST_OAUTH_SCOPE: z.string().min(1).default("coherence:write"),
    INGEST_OAUTH_RESOURCE: z.string().min(1).optional(),
    BRIDGE_BATCH_MAX: int(1, 1000, 1000),
    BRIDGE_BATCH_BYTES: int(4096, 1024 * 1024, 900 * 1024),
    BRIDGE_LINGER_MS: int(0, 10_000, 20),
    BRIDGE_CONCURRENCY: int(1, 64, 4),
    BRIDGE_MAX_IN_FLIGHT: int(1, 1_000_000, 10_000),
    BRIDGE_BACKOFF_BASE_MS: int(1, 60_000, 200),
    BRIDGE_BACKOFF_MAX_MS: int(1, 600_000, 30_000),
    BRIDGE_REQUEST_TIMEOUT_MS: int(100, 600_000, 30_000),
    BRIDGE_COMMIT_INTERVAL_MS: int(10, 3_600_000, 1000),
    BRIDGE_SHUTDOWN_TIMEOUT_MS: int(0, 600_000, 15_000),
    BRIDGE_LAG_INTERVAL_MS: int(0, 600_000, 5000),
    BRIDGE_METRICS_HOST: z.string().min(1).default("127.0.0.1"),
    /** 0 turns the metrics/health listener off. */
    BRIDGE_METRICS_PORT: int(0, 65_535, 9464),
  })
  .refine(
    (c) =>
      c.INGEST_TOKEN !== undefined ||
      c.INGEST_TOKENS_FILE !== undefined ||
      (c.INGEST_OAUTH_ISSUER !== undefined && c.INGEST_OAUTH_CLIENTS_FILE !== undefined),
    {
      message: "set INGEST_TOKEN, INGEST_TOKENS_FILE, or INGEST_OAUTH_ISSUER with INGEST_OAUTH_CLIENTS_FILE",
      path: ["INGEST_TOKEN"],
    },
  )
  .refine((c) => (c.INGEST_OAUTH_ISSUER === undefined) === (c.INGEST_OAUTH_CLIENTS_FILE === undefined), {
    message: "INGEST_OAUTH_ISSUER and INGEST_OAUTH_CLIENTS_FILE go together",
    path: ["INGEST_OAUTH_ISSUER"],
  });

export type BridgeConfig = z.infer<typeof schema>;

/** Parses the environment; throws one readable error listing every bad setting (never echoing a value). */
export function loadConfig(env: NodeJS.ProcessEnv): BridgeConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(present);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "settings"}: ${i.message}`);
  throw new Error(`invalid bridge settings:\n  ${problems.join("\n  ")}`);
}
