import { z } from "zod";

/** One accepted signal as the sinks receive it (the Durable Object's log row plus provenance). */
export const sinkSignalSchema = z.object({
  seq: z.number().int().nonnegative(),
  signalId: z.string(),
  type: z.string(),
  source: z.string(),
  value: z.number(),
  weight: z.number(),
  tsMs: z.number().int(),
  acceptedMs: z.number().int(),
  provenanceId: z.string(),
  tags: z.record(z.string(), z.string()),
});
export type SinkSignal = z.infer<typeof sinkSignalSchema>;

/** A tenant's score at one version, as materialized into Neo4j and Postgres. */
export const sinkScoreSchema = z.object({
  tenantId: z.string(),
  score: z.number(),
  status: z.string(),
  signalCount: z.number().int().nonnegative(),
  updatedAtMs: z.number().int(),
  version: z.number().int().nonnegative(),
});
export type SinkScore = z.infer<typeof sinkScoreSchema>;

/** Messages on the sink queue: versioned, validated on receipt (never cast). */
export const sinkMessageSchema = z.discriminatedUnion("kind", [
  z.object({
    v: z.literal(1),
    kind: z.literal("signals"),
    tenantId: z.string(),
    signals: z.array(sinkSignalSchema).min(1),
  }),
  z.object({ v: z.literal(1), kind: z.literal("score"), score: sinkScoreSchema }),
]);
export type SinkMessage = z.infer<typeof sinkMessageSchema>;

/**
 * Queue messages are capped at 128 KB; signals are packed into messages of at most this many bytes of JSON
 * (headroom for the envelope and encoding), so a 1,000-signal request costs a handful of queue operations.
 */
export const MAX_MESSAGE_BYTES = 100 * 1024;

const encoder = new TextEncoder();

/**
 * Packs signals, in order, into as few `signals` messages as fit under {@link MAX_MESSAGE_BYTES}.
 * A single signal is always small (fields are length-capped at ingest), so every message holds at least one.
 */
export function packSignals(tenantId: string, signals: SinkSignal[], maxBytes = MAX_MESSAGE_BYTES): SinkMessage[] {
  const messages: SinkMessage[] = [];
  const envelope = encoder.encode(JSON.stringify({ v: 1, kind: "signals", tenantId, signals: [] })).length;
  let current: SinkSignal[] = [];
  let size = envelope;
  for (const s of signals) {
    const bytes = encoder.encode(JSON.stringify(s)).length + 1;
    if (current.length > 0 && size + bytes > maxBytes) {
      messages.push({ v: 1, kind: "signals", tenantId, signals: current });
      current = [];
      size = envelope;
    }
    current.push(s);
    size += bytes;
  }
  if (current.length > 0) messages.push({ v: 1, kind: "signals", tenantId, signals: current });
  return messages;
}
