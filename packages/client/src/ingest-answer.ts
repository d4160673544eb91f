// Reading the 202 body of an ingest request (docs/api.md §4.3) into one result per signal. Pure.
import type { PublishResult } from "./publisher.ts";

function record(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/**
 * One result per signal of a batch of `count`, in request order, from `{"accepted","duplicates","provenanceId",
 * "signals":[{signalId,status}]}`; null when the body is not that shape or lists another number of signals.
 */
export function readAccepted(body: unknown, count: number, replayed: boolean): PublishResult[] | null {
  const b = record(body);
  if (!b || typeof b.provenanceId !== "string" || !Array.isArray(b.signals) || b.signals.length !== count) return null;
  const provenanceId = b.provenanceId;
  const results: PublishResult[] = [];
  for (const s of b.signals) {
    const item = record(s);
    if (!item || typeof item.signalId !== "string" || (item.status !== "accepted" && item.status !== "duplicate")) {
      return null;
    }
    results.push({ signalId: item.signalId, status: item.status, provenanceId, replayed });
  }
  return results;
}
