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

/** Opens the configured sinks (the queue consumer, `/readyz`, the retention cron and the score read use them). */
export function openSinks(config: Config): Sinks {
  return {
    graph: config.neo4j ? new Neo4jQueryApi(config.neo4j) : null,
    scores: config.postgres ? new NeonScoreStore(config.postgres) : null,
  };
}
