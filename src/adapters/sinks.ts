import type { Config } from "../config";
import type { GraphWriter, LedgerStore, ScoreStore } from "../ports";
import { Neo4jQueryApi } from "./neo4j-query-api";
import { NeonScoreStore } from "./neon";

/** The sinks configured for this deployment; an absent one is `null` and skipped. */
export interface Sinks {
  graph: GraphWriter | null;
  /** Materialized scores and the provenance ledger (both Postgres). */
  scores: (ScoreStore & LedgerStore & { close(): Promise<void> }) | null;
}

/** A sink as a probe finds it: answering, not answering within 2 s, or not configured. */
export type SinkState = "ok" | "down" | "off";

async function probe(check: (() => Promise<void>) | null): Promise<SinkState> {
  if (!check) return "off";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timeout")), 2000);
  });
  try {
    await Promise.race([check(), timeout]);
    return "ok";
  } catch {
    return "down";
  } finally {
    clearTimeout(timer);
  }
}

/** Probes each configured sink with one cheap query (`/readyz`, the dead-letter store's redrive). */
export async function probeSinks(config: Config): Promise<{ neo4j: SinkState; postgres: SinkState }> {
  const sinks = openSinks(config);
  try {
    const [neo4j, postgres] = await Promise.all([
      probe(sinks.graph ? () => (sinks.graph as GraphWriter).ping() : null),
      probe(sinks.scores ? () => (sinks.scores as NonNullable<Sinks["scores"]>).ping() : null),
    ]);
    return { neo4j, postgres };
  } finally {
    // A store that is down may fail to close too; the probe's answer stands.
    await sinks.scores?.close().catch(() => {});
  }
}

/** Opens the configured sinks (the queue consumer, `/readyz`, the retention cron and the score read use them). */
export function openSinks(config: Config): Sinks {
  return {
    graph: config.neo4j ? new Neo4jQueryApi(config.neo4j) : null,
    scores: config.postgres ? new NeonScoreStore(config.postgres) : null,
  };
}
