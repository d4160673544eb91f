import type { ValidationDetail } from "./signal";

/** The largest request body accepted anywhere (docs/api.md §4.3: over 1 MiB → 413). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** The body kinds ingest accepts, from the request's media type. */
export type BodyKind = "json" | "ndjson";

/** Maps a `Content-Type` header to a body kind, or `null` when it is not a JSON type (→ 415). */
export function bodyKindOf(contentType: string | null | undefined): BodyKind | null {
  if (!contentType) return null;
  const media = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  if (media === "application/x-ndjson" || media === "application/ndjson" || media === "application/jsonl") {
    return "ndjson";
  }
  if (media === "application/json" || /^application\/[a-z0-9.+-]*\+json$/.test(media)) return "json";
  return null;
}

export type DecodedBody =
  | { ok: true; items: unknown[] }
  | { ok: false; code: "MALFORMED_JSON"; message: string; details: ValidationDetail[] }
  | { ok: false; code: "VALIDATION_FAILED"; message: string; details: ValidationDetail[] };

/**
 * Splits an ingest body into raw signal items: one object, `{"signals":[...]}`, or NDJSON lines.
 * Only syntax and envelope shape are judged here; each item is validated by `validateSignals`.
 */
export function decodeIngestBody(text: string, kind: BodyKind): DecodedBody {
  if (kind === "ndjson") {
    const items: unknown[] = [];
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = (lines[i] ?? "").trim();
      if (line === "") continue;
      try {
        items.push(JSON.parse(line));
      } catch {
        return {
          ok: false,
          code: "MALFORMED_JSON",
          message: `line ${i + 1} is not valid JSON`,
          details: [{ index: items.length, path: "(line)", message: `line ${i + 1} is not valid JSON` }],
        };
      }
    }
    return { ok: true, items };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, code: "MALFORMED_JSON", message: "request body is not valid JSON", details: [] };
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return {
      ok: false,
      code: "VALIDATION_FAILED",
      message: 'body must be a signal object or {"signals":[...]}',
      details: [{ path: "(root)", message: "must be an object" }],
    };
  }
  if ("signals" in body) {
    const keys = Object.keys(body);
    const signals = (body as { signals: unknown }).signals;
    if (keys.length !== 1 || !Array.isArray(signals)) {
      return {
        ok: false,
        code: "VALIDATION_FAILED",
        message: 'a batch is {"signals":[...]} and nothing else',
        details: [{ path: "signals", message: "must be the only field, an array of signals" }],
      };
    }
    return { ok: true, items: signals };
  }
  return { ok: true, items: [body] };
}
