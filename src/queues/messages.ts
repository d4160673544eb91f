import { z } from "zod";
import { type TraceContext, traceContextSchema } from "../telemetry/trace-context";

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

/** A signal on the wire: its provenance's policy tags travel once per message, not once per row. */
const wireSignalSchema = sinkSignalSchema.omit({ tags: true });
type WireSignal = z.infer<typeof wireSignalSchema>;

/** Messages on the sink queue: versioned, validated on receipt (never cast). */
export const sinkMessageSchema = z.discriminatedUnion("kind", [
  z.object({
    v: z.literal(2),
    kind: z.literal("signals"),
    tenantId: z.string(),
    /** Policy tags by provenance id, for the rows of this message. */
    provenance: z.record(z.string(), z.record(z.string(), z.string())),
    signals: z.array(wireSignalSchema).min(1),
    /** The producer span of the hand-off (tracing on), so the consumer continues the request's trace. */
    trace: traceContextSchema.optional(),
  }),
  z.object({ v: z.literal(2), kind: z.literal("score"), score: sinkScoreSchema, trace: traceContextSchema.optional() }),
]);
export type SinkMessage = z.infer<typeof sinkMessageSchema>;
type SignalsMessage = Extract<SinkMessage, { kind: "signals" }>;

/** The signals of a message with their tags attached again (a missing provenance entry yields no tags). */
export function expandSignals(message: SignalsMessage): SinkSignal[] {
  return message.signals.map((s) => ({ ...s, tags: message.provenance[s.provenanceId] ?? {} }));
}

/**
 * Queue messages are capped at 128 KB, and Cloudflare bills each message write, read and delete per 64 KB
 * chunk. Packing to just under one chunk makes every message cost exactly 3 operations: a 1,000-signal request
 * is about four signal messages plus one score message, ≈ 15 operations per 1,000 signals.
 */
export const MAX_MESSAGE_BYTES = 60 * 1024;

const encoder = new TextEncoder();

/**
 * Packs signals, in order, into as few `signals` messages as fit under {@link MAX_MESSAGE_BYTES}.
 * A single signal is always small (fields are length-capped at ingest), so every message holds at least one.
 */
export function packSignals(
  tenantId: string,
  signals: SinkSignal[],
  maxBytes = MAX_MESSAGE_BYTES,
  trace?: TraceContext,
): SinkMessage[] {
  const messages: SinkMessage[] = [];
  const envelope = encoder.encode(
    JSON.stringify({ v: 2, kind: "signals", tenantId, provenance: {}, signals: [], ...(trace ? { trace } : {}) }),
  ).length;
  let current: WireSignal[] = [];
  let provenance: Record<string, Record<string, string>> = {};
  let size = envelope;
  const flush = () => {
    messages.push({ v: 2, kind: "signals", tenantId, provenance, signals: current, ...(trace ? { trace } : {}) });
    current = [];
    provenance = {};
    size = envelope;
  };
  for (const { tags, ...row } of signals) {
    const rowBytes = encoder.encode(JSON.stringify(row)).length + 1;
    const tagBytes = provenance[row.provenanceId]
      ? 0
      : encoder.encode(JSON.stringify({ [row.provenanceId]: tags })).length;
    if (current.length > 0 && size + rowBytes + tagBytes > maxBytes) flush();
    if (!provenance[row.provenanceId]) {
      provenance[row.provenanceId] = tags;
      size += encoder.encode(JSON.stringify({ [row.provenanceId]: tags })).length;
    }
    current.push(row);
    size += rowBytes;
  }
  if (current.length > 0) flush();
  return messages;
}
