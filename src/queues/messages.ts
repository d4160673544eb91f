import { z } from "zod";
import type { LedgerEntry } from "../domain/ledger";
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

/** A signal on the wire in v2 messages (still accepted from queues written by an earlier deployment). */
const wireSignalSchema = sinkSignalSchema.omit({ tags: true });

/**
 * A signal on the wire in v3 messages, positional so no field name is repeated per row:
 * `[seq, signalId, type, source, value, weight, tsMs, acceptedMs, provenanceIndex]`, where `provenanceIndex`
 * points into the message's `provenance` list. About 80 bytes a row where v2 needed ~215, so a 1,000-signal
 * request fits two 64 KB billing chunks instead of four.
 */
const wireRowSchema = z.tuple([
  z.number().int().nonnegative(),
  z.string(),
  z.string(),
  z.string(),
  z.number(),
  z.number(),
  z.number().int(),
  z.number().int(),
  z.number().int().nonnegative(),
]);
type WireRow = z.infer<typeof wireRowSchema>;

const tagsSchema = z.record(z.string(), z.string());

/**
 * A request's provenance-ledger entry on the wire, beside its provenance id and tags in v3 `signals` messages:
 * `[seq, requestSha256, signalCount, receivedAtMs, prevHash, hash]` (src/domain/ledger.ts). Riding with the
 * signals costs no extra queue message.
 */
const ledgerWireSchema = z.tuple([
  z.number().int().positive(),
  z.string(),
  z.number().int().nonnegative(),
  z.number().int(),
  z.string(),
  z.string(),
]);
export type LedgerWire = z.infer<typeof ledgerWireSchema>;

/** Messages on the sink queue: versioned, validated on receipt (never cast). */
export const sinkMessageSchema = z.union([
  z.object({
    v: z.literal(3),
    kind: z.literal("signals"),
    tenantId: z.string(),
    /** `[provenanceId, policy tags, ledger entry?]` of the rows of this message, each once. */
    provenance: z
      .array(z.union([z.tuple([z.string(), tagsSchema]), z.tuple([z.string(), tagsSchema, ledgerWireSchema])]))
      .min(1),
    rows: z.array(wireRowSchema).min(1),
    /** The producer span of the hand-off (tracing on), so the consumer continues the request's trace. */
    trace: traceContextSchema.optional(),
  }),
  z.object({
    v: z.literal(2),
    kind: z.literal("signals"),
    tenantId: z.string(),
    provenance: z.record(z.string(), tagsSchema),
    signals: z.array(wireSignalSchema).min(1),
    trace: traceContextSchema.optional(),
  }),
  z.object({
    v: z.union([z.literal(2), z.literal(3)]),
    kind: z.literal("score"),
    score: sinkScoreSchema,
    trace: traceContextSchema.optional(),
  }),
]);
export type SinkMessage = z.infer<typeof sinkMessageSchema>;
type SignalsMessage = Extract<SinkMessage, { kind: "signals" }>;

/** The signals of a message with their tags attached again (a missing provenance entry yields no tags). */
export function expandSignals(message: SignalsMessage): SinkSignal[] {
  if (message.v === 2) {
    return message.signals.map((s) => ({ ...s, tags: message.provenance[s.provenanceId] ?? {} }));
  }
  return message.rows.map(([seq, signalId, type, source, value, weight, tsMs, acceptedMs, p]) => {
    const [provenanceId, tags] = message.provenance[p] ?? ["", {}];
    return { seq, signalId, type, source, value, weight, tsMs, acceptedMs, provenanceId, tags };
  });
}

/** The provenance-ledger entries a message carries (each request's once per message; the store ignores repeats). */
export function expandLedger(message: SignalsMessage): LedgerEntry[] {
  if (message.v === 2) return [];
  const out: LedgerEntry[] = [];
  for (const [provenanceId, tags, ledger] of message.provenance) {
    if (!ledger) continue;
    const [seq, requestSha256, signalCount, receivedAtMs, prevHash, hash] = ledger;
    out.push({
      tenantId: message.tenantId,
      seq,
      provenanceId,
      requestSha256,
      signalCount,
      policyTags: {
        purpose: tags.purpose ?? "",
        retention: tags.retention ?? "",
        license: tags.license ?? "",
        residency: tags.residency ?? "",
      },
      receivedAtMs,
      prevHash,
      hash,
    });
  }
  return out;
}

/**
 * Queue messages are capped at 128 KB, and Cloudflare bills each message write, read and delete per 64 KB
 * chunk. Packing to just under one chunk makes every message cost exactly 3 operations: a 1,000-signal request
 * is about two signal messages plus one score message, ≈ 9 operations per 1,000 signals.
 */
export const MAX_MESSAGE_BYTES = 60 * 1024;

const encoder = new TextEncoder();
const bytes = (value: unknown) => encoder.encode(JSON.stringify(value)).length;

/**
 * Packs signals, in order, into as few v3 `signals` messages as fit under {@link MAX_MESSAGE_BYTES}.
 * A single signal is always small (fields are length-capped at ingest), so every message holds at least one.
 */
export function packSignals(
  tenantId: string,
  signals: SinkSignal[],
  maxBytes = MAX_MESSAGE_BYTES,
  trace?: TraceContext,
  /** Ledger entries by provenance id, sent with the first row of their request in each message. */
  ledger?: ReadonlyMap<string, LedgerWire>,
): SinkMessage[] {
  const messages: SinkMessage[] = [];
  const envelope = bytes({ v: 3, kind: "signals", tenantId, provenance: [], rows: [], ...(trace ? { trace } : {}) });
  let rows: WireRow[] = [];
  let provenance: Array<[string, Record<string, string>] | [string, Record<string, string>, LedgerWire]> = [];
  let index = new Map<string, number>();
  let size = envelope;
  const flush = () => {
    messages.push({ v: 3, kind: "signals", tenantId, provenance, rows, ...(trace ? { trace } : {}) });
    rows = [];
    provenance = [];
    index = new Map();
    size = envelope;
  };
  for (const s of signals) {
    const known = index.get(s.provenanceId);
    const entry = provenanceEntry(s, ledger);
    const entryBytes = known === undefined ? bytes(entry) + 1 : 0;
    const row: WireRow = [s.seq, s.signalId, s.type, s.source, s.value, s.weight, s.tsMs, s.acceptedMs, known ?? 0];
    const rowBytes = bytes(row) + 1 + (known === undefined ? String(provenance.length).length : 0);
    if (rows.length > 0 && size + rowBytes + entryBytes > maxBytes) flush();
    let p = index.get(s.provenanceId);
    if (p === undefined) {
      p = provenance.length;
      provenance.push(entry);
      index.set(s.provenanceId, p);
      size += bytes(entry) + 1;
    }
    row[8] = p;
    rows.push(row);
    size += bytes(row) + 1;
  }
  if (rows.length > 0) flush();
  return messages;
}

function provenanceEntry(
  s: SinkSignal,
  ledger: ReadonlyMap<string, LedgerWire> | undefined,
): [string, Record<string, string>] | [string, Record<string, string>, LedgerWire] {
  const entry = ledger?.get(s.provenanceId);
  return entry ? [s.provenanceId, s.tags, entry] : [s.provenanceId, s.tags];
}

/** What the sink consumer puts on the dead-letter queue (kept by the DeadLetterStore object for replay). */
export const deadLetterSchema = z.object({
  body: z.unknown(),
  error: z.object({ code: z.string(), reason: z.string() }),
  failedAt: z.number(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;
