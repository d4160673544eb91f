// Retry timing: exponential backoff with jitter, and the service's `Retry-After` honoured. Pure.

export interface RetryPolicy {
  /** Tries per request, the first included (default 8). */
  maxAttempts: number;
  /** First backoff step in ms (default 200). */
  baseDelayMs: number;
  /** Longest backoff in ms (default 30 000). */
  maxDelayMs: number;
  /** Longest wait a `Retry-After` may ask for in ms (default 60 000): an hour-long ask must not park a producer. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 200,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
};

/**
 * Delay before retry number `retry` (0 = the first): `base · 2^retry` capped at `max`, with "full jitter"
 * (uniform in [0, cap]) so that producers that failed together do not come back together.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(retry, 30));
  return Math.round(cap * random());
}

/** `Retry-After` in ms: delay-seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable. */
export function parseRetryAfter(header: string | null | undefined, now: number): number | null {
  if (header === null || header === undefined) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * The wait before retry number `retry`: what `Retry-After` asks for (capped), else the backoff. A `Retry-After`
 * is a floor, not a suggestion: the client never comes back earlier than asked.
 */
export function retryDelay(retry: number, retryAfterMs: number | null, policy: RetryPolicy, random: () => number) {
  if (retryAfterMs !== null) return Math.min(policy.maxRetryAfterMs, retryAfterMs);
  return backoffDelay(retry, policy, random);
}
