import { z } from "zod";
import { isValidSpanId, isValidTraceId } from "./ids";

/**
 * A span's context as it crosses a process boundary that has no headers: the arguments of a Durable Object RPC
 * call, a queue message. The two strings are exactly the W3C `traceparent` and `baggage` header values, so the
 * same parser serves HTTP, RPC and queues, and the pair survives structured clone and JSON unchanged.
 */
export interface TraceContext {
  traceparent: string;
  baggage?: string;
}

/** Baggage entries (W3C Baggage), decoded: key → value. Properties (`;k=v`) are not kept. */
export type Baggage = Readonly<Record<string, string>>;

/** The context of a span in another process, to continue its trace. */
export interface RemoteParent {
  traceId: string;
  spanId: string;
  traceFlags: number;
  baggage: Baggage;
}

/** Limits this service applies to baggage it reads or writes (W3C Baggage asks receivers to accept at least these). */
export const MAX_BAGGAGE_BYTES = 8192;
export const MAX_BAGGAGE_MEMBERS = 64;

/** Shape check for a {@link TraceContext} that arrives in a queue message or RPC call (never cast). */
export const traceContextSchema = z.object({
  traceparent: z.string().max(512),
  baggage: z.string().max(MAX_BAGGAGE_BYTES).optional(),
});

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Parses a W3C `traceparent` (version 00, and later versions by their first four fields as the spec asks).
 * Returns `null` for anything invalid: unknown characters, upper case, all-zero ids, version `ff`, or a version
 * 00 value with trailing data.
 */
export function parseTraceparent(value: string | null | undefined): Omit<RemoteParent, "baggage"> | null {
  if (!value) return null;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return null;
  const [, version, traceId, spanId, flags, rest] = m;
  if (!version || !traceId || !spanId || !flags) return null;
  if (version === "ff" || (version === "00" && rest !== undefined)) return null;
  if (!isValidTraceId(traceId) || !isValidSpanId(spanId)) return null;
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) };
}

/** Formats a version-00 `traceparent`. */
export function formatTraceparent(traceId: string, spanId: string, traceFlags = 1): string {
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses a W3C `baggage` header. Invalid members are skipped, not fatal; a header over
 * {@link MAX_BAGGAGE_BYTES} is ignored whole and members past {@link MAX_BAGGAGE_MEMBERS} are dropped.
 */
export function parseBaggage(value: string | null | undefined): Baggage {
  const out: Record<string, string> = {};
  if (!value || value.length > MAX_BAGGAGE_BYTES) return out;
  let members = 0;
  for (const member of value.split(",")) {
    if (members >= MAX_BAGGAGE_MEMBERS) break;
    const [pair = ""] = member.split(";", 1);
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    const raw = pair.slice(eq + 1).trim();
    if (!TOKEN.test(key)) continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      continue;
    }
    out[key] = decoded;
    members++;
  }
  return out;
}

/** Formats baggage as a W3C `baggage` header value (values percent-encoded); `undefined` when empty. */
export function formatBaggage(baggage: Baggage): string | undefined {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(baggage)) {
    if (!TOKEN.test(key) || parts.length >= MAX_BAGGAGE_MEMBERS) continue;
    parts.push(`${key}=${encodeURIComponent(value)}`);
  }
  const header = parts.join(",");
  return header && header.length <= MAX_BAGGAGE_BYTES ? header : undefined;
}

/** The parent described by a {@link TraceContext}, or `null` when it is absent or its `traceparent` is invalid. */
export function parseTraceContext(ctx: TraceContext | null | undefined): RemoteParent | null {
  const parent = parseTraceparent(ctx?.traceparent);
  return parent ? { ...parent, baggage: parseBaggage(ctx?.baggage) } : null;
}

/**
 * The parent named by incoming HTTP headers. `baggage` is read only when `trustBaggage` is set: the public edge
 * must not let a client choose entries such as `tenant_id`, which this service sets from the verified token.
 */
export function traceContextFromHeaders(headers: Headers, opts: { trustBaggage?: boolean } = {}): RemoteParent | null {
  const parent = parseTraceparent(headers.get("traceparent"));
  if (!parent) return null;
  return { ...parent, baggage: opts.trustBaggage ? parseBaggage(headers.get("baggage")) : {} };
}
