// Retry timing for the service: bounded exponential backoff with jitter, and `Retry-After` honoured. Pure.

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before retry number `attempt` (0 = the first retry): `base · 2^attempt`, capped at `max`, with "equal
 * jitter" (half fixed, half random) so bridges that failed together do not retry together.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp / 2 + (exp / 2) * random());
}

/**
 * `Retry-After` in ms: delay-seconds or an HTTP date (RFC 9110 §10.2.3). Null when absent or unreadable. Never
 * negative.
 */
export function retryAfterMs(header: string | null | undefined, now: number): number | null {
  if (header === null || header === undefined) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

/**
 * The wait before retrying an answer: what `Retry-After` asks for when present (capped at `max`: a service
 * asking for an hour should not park the bridge for an hour), the backoff otherwise.
 */
export function retryDelay(
  attempt: number,
  retryAfter: number | null,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  if (retryAfter !== null) return Math.min(policy.maxMs, retryAfter);
  return backoffDelay(attempt, policy, random);
}
