// What the service's answer to one ingest request means for the bridge (docs/api.md §3, §4.3, §5.3). Pure.
import { z } from "zod";
import type { Rejection } from "./message.ts";

const accepted = z.object({
  accepted: z.number(),
  duplicates: z.number(),
  provenanceId: z.string(),
  signals: z.array(z.object({ signalId: z.string(), status: z.enum(["accepted", "duplicate"]) })),
});

const errorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z
      .array(z.looseObject({ index: z.number().int().nonnegative().optional(), path: z.string().optional() }))
      .optional(),
  }),
});

/** One HTTP answer, as the transport saw it. */
export interface IngestAnswer {
  status: number;
  retryAfter: string | null;
  text: string;
}

export type Verdict =
  /** 2xx: every signal is stored (or was already). */
  | { kind: "accepted"; provenanceId: string | null; statuses: Array<"accepted" | "duplicate"> }
  /** 400 naming items: those can never be accepted; the rest must be sent again without them. */
  | { kind: "reject-items"; rejected: Map<number, Rejection> }
  /** The whole request can never be accepted (403 for this tenant, or a one-signal request the service refuses). */
  | { kind: "reject-all"; rejection: Rejection }
  /** Refused as a whole without saying which item is at fault: halve it until the culprit is alone. */
  | { kind: "split"; code: string }
  /** Nothing wrong with the signals: try again later (429, 5xx, an expired token, a misrouted URL …). */
  | { kind: "retry"; code: string; retryAfter: string | null };

function parseError(text: string): z.infer<typeof errorBody>["error"] | null {
  try {
    const parsed = errorBody.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.error : null;
  } catch {
    return null;
  }
}

function describe(details: ReadonlyArray<Record<string, unknown>>): string {
  return details
    .map(
      (d) => `${typeof d.path === "string" ? d.path : "(signal)"}: ${typeof d.message === "string" ? d.message : ""}`,
    )
    .join("; ");
}

/**
 * Classifies the answer to a request of `count` signals. Only answers that blame the signals themselves ever lead to
 * a dead letter; everything else is retried, so a service outage or a bad deployment never empties the topic into the
 * dead-letter topic.
 */
export function judgeAnswer(answer: IngestAnswer, count: number): Verdict {
  const { status } = answer;
  if (status >= 200 && status < 300) {
    let body: z.infer<typeof accepted> | null = null;
    try {
      const parsed = accepted.safeParse(JSON.parse(answer.text));
      body = parsed.success ? parsed.data : null;
    } catch {
      body = null;
    }
    const statuses =
      body && body.signals.length === count
        ? body.signals.map((s) => s.status)
        : Array.from({ length: count }, () => "accepted" as const);
    return { kind: "accepted", provenanceId: body?.provenanceId ?? null, statuses };
  }
  const error = parseError(answer.text);
  const code = error?.code ?? `HTTP_${status}`;
  if (status === 400 || status === 422) {
    const details = error?.details ?? [];
    const byIndex = new Map<number, Array<Record<string, unknown>>>();
    for (const d of details) {
      if (d.index === undefined || d.index >= count) continue;
      const list = byIndex.get(d.index) ?? [];
      list.push(d);
      byIndex.set(d.index, list);
    }
    if (byIndex.size > 0) {
      const rejected = new Map<number, Rejection>();
      for (const [index, list] of byIndex) {
        rejected.set(index, { code: "VALIDATION_FAILED", reason: describe(list) || (error?.message ?? code) });
      }
      return { kind: "reject-items", rejected };
    }
    if (count > 1) return { kind: "split", code };
    const reason = error ? `${error.message}${details.length ? ` (${describe(details)})` : ""}` : `HTTP ${status}`;
    return {
      kind: "reject-all",
      rejection: { code: code === "MALFORMED_JSON" ? "MALFORMED_JSON" : "VALIDATION_FAILED", reason },
    };
  }
  if (status === 413) {
    if (count > 1) return { kind: "split", code };
    return { kind: "reject-all", rejection: { code: "PAYLOAD_TOO_LARGE", reason: error?.message ?? "HTTP 413" } };
  }
  if (status === 403) {
    return {
      kind: "reject-all",
      rejection: { code: "FORBIDDEN", reason: error?.message ?? "the ingest token does not cover this tenant" },
    };
  }
  // 401 (expired or rotated token), 404/405 (wrong INGEST_URL), 408, 409 (idempotency in flight), 415, 429, 5xx
  // and anything unexpected: the signals are not at fault.
  return { kind: "retry", code, retryAfter: answer.retryAfter };
}
