/**
 * When to flush fan-out: at once if the last flush was at least one window ago, else at the end of the
 * current window. So the first event after a quiet spell goes out immediately, and a burst is sent in
 * windows of at most `windowMs` — one flush per window, however many events arrive.
 */
export function flushDelay(nowMs: number, lastFlushMs: number | null, windowMs: number): number {
  if (lastFlushMs === null) return 0;
  return Math.max(0, lastFlushMs + windowMs - nowMs);
}

/**
 * Per-socket flow control, counted in event frames (the runtime hides per-socket buffered bytes).
 * Now and then the server pings with `{"n": sent}`; the graphql-ws client echoes the payload in its pong,
 * which acknowledges every frame before it (one ordered stream). Pings are sparse — every
 * {@link PING_EVERY_EVENTS} events, and after each page of a large backlog — because each pong wakes the
 * object: a ping per flush to 1,000 subscribers would cost 1,000 wake-ups per flush.
 */
export interface FlowState {
  /** Event frames sent to the socket so far. */
  sent: number;
  /** Event frames the client has acknowledged. */
  acked: number;
  /** `sent` as of the last ping. */
  pinged?: number;
  /** Since when the client has left a ping unanswered (`null` when it owes no pong). */
  since: number | null;
}

/** Live traffic is pinged once per this many events. */
export const PING_EVERY_EVENTS = 250;

/** A healthy client answers a ping within milliseconds; one silent this long while falling behind is stuck. */
export const ACK_GRACE_MS = 1000;

/** Records `n` more event frames sent. */
export function recordSent(flow: FlowState, n: number): FlowState {
  return { ...flow, sent: flow.sent + n };
}

/** `true` when the server should ping now: enough unpinged events, or a paged backlog awaiting the next page. */
export function shouldPing(flow: FlowState, backlogRemaining: number): boolean {
  const unpinged = flow.sent - (flow.pinged ?? 0);
  return unpinged > 0 && (unpinged >= PING_EVERY_EVENTS || backlogRemaining > 0);
}

/** Records a ping sent at `nowMs`. */
export function recordPing(flow: FlowState, nowMs: number): FlowState {
  return { ...flow, pinged: flow.sent, since: flow.since ?? nowMs };
}

/** Event frames sent and not yet acknowledged. */
export function unacked(flow: FlowState): number {
  return flow.sent - flow.acked;
}

/**
 * Applies a pong's echoed count at `nowMs`; stale or forged counts never move the acknowledgement backwards
 * or past `sent`. Progress restarts the grace period for what is still owed.
 */
export function acknowledge(flow: FlowState, echoed: unknown, nowMs: number): FlowState {
  if (typeof echoed !== "number" || !Number.isSafeInteger(echoed)) return flow;
  const acked = Math.min(flow.sent, Math.max(flow.acked, echoed));
  if (acked === flow.acked) return flow;
  return { ...flow, acked, since: acked >= (flow.pinged ?? 0) ? null : nowMs };
}

/** Events past which a client is too far behind and is closed with 1013 (docs/api.md §4.5). */
export const MAX_UNACKED_EVENTS = 1000;
/** Replay and bursts go out in pages of this many events, the next page after the client's pong. */
export const PAGE_EVENTS = 500;

/**
 * How many of `backlog` pending events to send a socket now. A small backlog (live traffic) is sent
 * whole even while earlier events are unacknowledged, so a dead client's count grows and it is closed;
 * a large backlog (replay, big burst) goes out a page at a time, each page after the previous one's pong.
 */
export function eventsToSend(backlog: number, flow: FlowState): number {
  if (backlog <= PAGE_EVENTS) return backlog;
  return unacked(flow) === 0 ? PAGE_EVENTS : 0;
}

/**
 * `true` when a client has fallen so far behind that it must be closed (1013, resumable with `after`):
 * more than 1,000 event frames sent and unacknowledged (a hard bound on what the runtime buffers for it), or
 * more than 1,000 events owed in all (unacknowledged plus not yet sent) while it has left a ping unanswered
 * for longer than {@link ACK_GRACE_MS}. A client replaying a long backlog keeps acknowledging pages, so it is
 * never closed for the size of its replay alone.
 */
export function tooFarBehind(flow: FlowState, unsentBacklog: number, nowMs: number): boolean {
  const owed = unacked(flow);
  if (owed > MAX_UNACKED_EVENTS) return true;
  const stuck = owed > 0 && flow.since !== null && nowMs - flow.since >= ACK_GRACE_MS;
  return stuck && owed + unsentBacklog > MAX_UNACKED_EVENTS;
}
