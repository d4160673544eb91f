/**
 * Cursors name a position in a tenant's acceptance log: `v1.<seq>`, where `seq` is the signal's
 * acceptance sequence number in the tenant's object. Opaque to clients; versioned so the format can change.
 */
export function encodeCursor(seq: number): string {
  return `v1.${seq}`;
}

/** The sequence number of a cursor, or `null` when it is malformed (→ `BAD_CURSOR`). */
export function decodeCursor(cursor: string): number | null {
  const m = /^v1\.(0|[1-9][0-9]{0,15})$/.exec(cursor);
  if (!m) return null;
  const seq = Number(m[1]);
  return Number.isSafeInteger(seq) ? seq : null;
}

/** How a resume position relates to what the object still holds. */
export type CursorCheck = { ok: true; seq: number } | { ok: false; code: "BAD_CURSOR" | "CURSOR_EXPIRED" };

/**
 * Checks a client's `after` cursor: malformed or beyond the newest accepted signal → `BAD_CURSOR`;
 * older than what replay still holds (an event after it was pruned) → `CURSOR_EXPIRED`.
 */
export function checkCursor(cursor: string, newestSeq: number, prunedThroughSeq: number): CursorCheck {
  const seq = decodeCursor(cursor);
  if (seq === null || seq > newestSeq) return { ok: false, code: "BAD_CURSOR" };
  if (seq < prunedThroughSeq) return { ok: false, code: "CURSOR_EXPIRED" };
  return { ok: true, seq };
}
