/** Length of the scoring window: a signal counts while its `ts` is in `(now − 24 h, now]`. */
export const WINDOW_MS = 24 * 60 * 60 * 1000;

/** Where a signal stands relative to the window at `now`. */
export type WindowPhase = "pending" | "in" | "expired";

/** Numeric codes stored in SQLite for each phase (kept stable: rows persist across deploys). */
export const PHASE_CODE: Record<WindowPhase, number> = { pending: 0, in: 1, expired: 2 };

/** The phase of a signal with timestamp `tsMs` at instant `nowMs`. */
export function phaseAt(tsMs: number, nowMs: number): WindowPhase {
  if (tsMs > nowMs) return "pending";
  if (tsMs <= nowMs - WINDOW_MS) return "expired";
  return "in";
}

/** The instant a pending signal enters the window. */
export function entersAt(tsMs: number): number {
  return tsMs;
}

/** The instant an in-window signal leaves it: the first `now` with `ts <= now − 24 h`. */
export function leavesAt(tsMs: number): number {
  return tsMs + WINDOW_MS;
}

/** The earliest of several optional due times, or `null` when none is due. */
export function earliest(...times: Array<number | null | undefined>): number | null {
  let best: number | null = null;
  for (const t of times) {
    if (t == null) continue;
    if (best === null || t < best) best = t;
  }
  return best;
}

/** The span of a tenant's score history (one point per minute): the window's 24 h, in minutes. */
export const HISTORY_MINUTES = WINDOW_MS / 60_000;
