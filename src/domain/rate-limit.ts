/** Outcome of asking the limiter for one request. */
export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number };

/**
 * Exact per-tenant limiter over fixed one-second windows, kept in the tenant's Durable Object (every
 * request of a tenant passes through its single object, so no count is shared or approximated).
 * Held in memory only: an evicted object starts a fresh window, which can only admit, never refuse, more.
 */
export class FixedWindowLimiter {
  private windowStart = 0;
  private count = 0;

  /** Admits one request at `nowMs` if fewer than `max` were admitted in the current second. */
  admit(nowMs: number, max: number): Admission {
    const second = Math.floor(nowMs / 1000) * 1000;
    if (second !== this.windowStart) {
      this.windowStart = second;
      this.count = 0;
    }
    if (this.count >= max) return { ok: false, retryAfterSeconds: 1 };
    this.count++;
    return { ok: true };
  }
}
