// Kafka record → the signal the bridge forwards (docs/kafka-bridge.md: each value is one signal in the JSON shape of docs/api.md §4.3).
// Pure: no client, no I/O. The service stays the judge of a signal's validity; only what the bridge itself needs
// (parseable JSON, an object, a tenant id to pick the token and group the batch) is checked here.
import { createHash } from "node:crypto";
import { z } from "zod";

/** The service refuses bodies over 1 MiB; a single signal must leave room for the `{"signals":[…]}` envelope. */
export const MAX_SIGNAL_BYTES = 1024 * 1024 - 64;
/** Contract §3: `signalId` is 1..256 characters. */
const MAX_SIGNAL_ID = 256;

/** Only the routing field is checked; every other field goes to the service untouched. */
const routable = z.looseObject({
  tenantId: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, "must be 1..128 of [A-Za-z0-9._:-]"),
});

/** Where a record came from: enough to derive ids and address the dead-letter headers. */
export interface RecordPosition {
  topic: string;
  partition: number;
  offset: bigint;
  /** The record's Kafka timestamp in ms since the epoch (negative when the record has none). */
  timestampMs: number;
}

/** Why a record can never be accepted, as the `x-error-code` of its dead letter and a human reason. */
export interface Rejection {
  code: "MALFORMED_JSON" | "VALIDATION_FAILED" | "PAYLOAD_TOO_LARGE" | "FORBIDDEN";
  reason: string;
}

export type Decoded =
  | { ok: true; tenantId: string; json: string; bytes: number }
  | ({ ok: false; tenantId: string | null } & Rejection);

/**
 * The id a record without `signalId` gets: stable across redeliveries of the same record, so the service's dedupe
 * key `(tenantId, source, signalId, ts)` makes a redelivery a duplicate. Hashed when a long topic name would push it
 * past 256 characters.
 */
export function derivedSignalId(topic: string, partition: number, offset: bigint): string {
  const id = `kafka:${topic}:${partition}:${offset}`;
  if (id.length <= MAX_SIGNAL_ID) return id;
  return `kafka:sha256:${createHash("sha256").update(id).digest("hex")}`;
}

/**
 * Decodes one record value into the JSON text of the signal to forward, or the reason it goes to the dead-letter
 * topic. A record without `signalId` gets {@link derivedSignalId}; one without `ts` gets its Kafka timestamp, since
 * the service would otherwise stamp each delivery with its own arrival time and a redelivery would count twice.
 */
export function decodeRecord(value: Buffer | null | undefined, at: RecordPosition): Decoded {
  if (!value || value.length === 0) {
    return { ok: false, tenantId: null, code: "MALFORMED_JSON", reason: "the record has no value" };
  }
  if (value.length > MAX_SIGNAL_BYTES) {
    return {
      ok: false,
      tenantId: null,
      code: "PAYLOAD_TOO_LARGE",
      reason: `the value is ${value.length} bytes; the service takes at most 1 MiB per request`,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString("utf8"));
  } catch {
    // Not the parser's message: it quotes the text around the fault, and the headers and logs should not.
    return { ok: false, tenantId: null, code: "MALFORMED_JSON", reason: "the value is not valid JSON" };
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return { ok: false, tenantId: null, code: "VALIDATION_FAILED", reason: "the value must be one signal object" };
  }
  const result = routable.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    return {
      ok: false,
      tenantId: null,
      code: "VALIDATION_FAILED",
      reason: `tenantId: ${issue?.message ?? "invalid"}`,
    };
  }
  const signal: Record<string, unknown> = { ...(parsed as Record<string, unknown>) };
  if (!("signalId" in signal)) signal.signalId = derivedSignalId(at.topic, at.partition, at.offset);
  if (!("ts" in signal) && at.timestampMs >= 0) signal.ts = new Date(at.timestampMs).toISOString();
  const json = JSON.stringify(signal);
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_SIGNAL_BYTES) {
    return {
      ok: false,
      tenantId: result.data.tenantId,
      code: "PAYLOAD_TOO_LARGE",
      reason: `the signal is ${bytes} bytes; the service takes at most 1 MiB per request`,
    };
  }
  return { ok: true, tenantId: result.data.tenantId, json, bytes };
}
