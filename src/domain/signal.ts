import { z } from "zod";
import { deriveSignalId } from "./dedupe-key";
import { parseRfc3339, toIso } from "./time";

/** At most this many signals in one request (docs/api.md §4.3). */
export const MAX_BATCH = 1000;
/** Signals more than this far in the future are invalid. */
export const MAX_FUTURE_MS = 5 * 60 * 1000;

const TENANT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** `true` when `id` is a well-formed tenant id. */
export function isTenantId(id: string): boolean {
  return TENANT_ID.test(id);
}

/** One signal as producers send it: strict, so unknown fields are invalid. */
export const signalInputSchema = z.strictObject({
  tenantId: z.string().regex(TENANT_ID, "must be 1..128 of [A-Za-z0-9._:-]"),
  signalId: z.string().min(1).max(256).optional(),
  type: z.string().min(1).max(128),
  source: z.string().min(1).max(128),
  value: z.number().min(0).max(1),
  weight: z.number().min(0).max(1e6).optional(),
  ts: z
    .string()
    .refine((s) => parseRfc3339(s) !== null, "must be an RFC 3339 date-time with offset")
    .optional(),
});

export type SignalInput = z.infer<typeof signalInputSchema>;

/** A validated signal with defaults applied and its id settled. */
export interface NormalizedSignal {
  tenantId: string;
  signalId: string;
  type: string;
  source: string;
  value: number;
  weight: number;
  tsMs: number;
  tsIso: string;
}

/** One validation problem, addressed as the contract's `details` entries. */
export interface ValidationDetail {
  index?: number;
  path: string;
  message: string;
}

export type ValidationResult = { ok: true; signals: NormalizedSignal[] } | { ok: false; details: ValidationDetail[] };

function issuesToDetails(error: z.ZodError, index: number): ValidationDetail[] {
  const details: ValidationDetail[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) details.push({ index, path: key, message: "unknown field" });
      continue;
    }
    details.push({ index, path: issue.path.join(".") || "(root)", message: issue.message });
  }
  return details;
}

/**
 * Validates raw items (already JSON-decoded) against the signal rules at `receivedAtMs`.
 * All-or-nothing: any invalid item makes the whole result invalid, with a detail per problem.
 * Signal ids are derived here for items without one, from their normalized fields.
 */
export async function validateSignals(items: readonly unknown[], receivedAtMs: number): Promise<ValidationResult> {
  if (items.length === 0 || items.length > MAX_BATCH) {
    return {
      ok: false,
      details: [{ path: "signals", message: `must hold 1..${MAX_BATCH} signals, got ${items.length}` }],
    };
  }
  const details: ValidationDetail[] = [];
  const parsed: Array<{ input: SignalInput; tsMs: number }> = [];
  items.forEach((item, index) => {
    const result = signalInputSchema.safeParse(item);
    if (!result.success) {
      details.push(...issuesToDetails(result.error, index));
      return;
    }
    const tsMs = result.data.ts === undefined ? receivedAtMs : (parseRfc3339(result.data.ts) as number);
    if (tsMs > receivedAtMs + MAX_FUTURE_MS) {
      details.push({ index, path: "ts", message: "must not be more than 5 minutes in the future" });
      return;
    }
    parsed.push({ input: result.data, tsMs });
  });
  if (details.length > 0) return { ok: false, details };

  const signals: NormalizedSignal[] = [];
  const derived: Array<Promise<void>> = [];
  for (const { input, tsMs } of parsed) {
    const weight = input.weight ?? 1;
    const tsIso = toIso(tsMs);
    const signal: NormalizedSignal = {
      tenantId: input.tenantId,
      signalId: input.signalId ?? "",
      type: input.type,
      source: input.source,
      value: input.value,
      weight,
      tsMs,
      tsIso,
    };
    signals.push(signal);
    // Only signals without an id wait for a digest (Web Crypto is async).
    if (input.signalId === undefined) {
      derived.push(
        deriveSignalId({ type: input.type, value: input.value, weight, source: input.source, tsIso }).then((id) => {
          signal.signalId = id;
        }),
      );
    }
  }
  if (derived.length > 0) await Promise.all(derived);
  return { ok: true, signals };
}
