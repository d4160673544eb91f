// The HTTP side: POST /v1/coherence/signals with a bearer token (docs/api.md §4.3). Node's fetch keeps connections alive.
import type { IngestAnswer } from "./ingest-answer.ts";

export const INGEST_PATH = "/v1/coherence/signals";

/**
 * Returns a sender bound to the service's base URL. Each request is bounded by `timeoutMs` (then it fails like a
 * network error and is retried) and by `signal` (shutdown).
 */
export function ingestSender(
  baseUrl: string,
  timeoutMs: number,
): (tenantId: string, token: string, body: string, signal: AbortSignal) => Promise<IngestAnswer> {
  // Appended, not resolved: a base URL with a path prefix keeps it.
  const url = `${baseUrl.replace(/\/+$/, "")}${INGEST_PATH}`;
  return async (_tenantId, token, body, signal) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body,
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
    const text = await res.text();
    return { status: res.status, retryAfter: res.headers.get("retry-after"), text };
  };
}
