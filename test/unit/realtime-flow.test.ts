import { describe, expect, it } from "vitest";
import {
  ACK_GRACE_MS,
  acknowledge,
  eventsToSend,
  flushDelay,
  MAX_UNACKED_EVENTS,
  PAGE_EVENTS,
  PING_EVERY_EVENTS,
  recordPing,
  recordSent,
  shouldPing,
  tooFarBehind,
  unacked,
} from "../../src/realtime/coalesce";
import { checkCursor, decodeCursor, encodeCursor } from "../../src/realtime/cursor";

describe("coalescing", () => {
  it("flushes at once after a quiet spell and at the window's end inside a burst", () => {
    expect(flushDelay(1000, null, 100)).toBe(0);
    expect(flushDelay(1000, 800, 100)).toBe(0);
    expect(flushDelay(1000, 950, 100)).toBe(50);
    expect(flushDelay(1000, 1000, 100)).toBe(100);
  });
});

describe("flow control", () => {
  it("sends a live backlog whole, even with frames unacknowledged", () => {
    expect(eventsToSend(3, { sent: 10, acked: 0, since: 0 })).toBe(3);
    expect(eventsToSend(PAGE_EVENTS, { sent: 10, acked: 0, since: 0 })).toBe(PAGE_EVENTS);
  });

  it("pages a large backlog, one page per acknowledgement", () => {
    expect(eventsToSend(PAGE_EVENTS + 1, { sent: 0, acked: 0, since: null })).toBe(PAGE_EVENTS);
    expect(eventsToSend(5000, { sent: 500, acked: 0, since: 0 })).toBe(0);
    expect(eventsToSend(5000, { sent: 500, acked: 500, since: null })).toBe(PAGE_EVENTS);
  });

  it("closes a client with more than 1000 frames unacknowledged, however recent", () => {
    const t = 1_000_000;
    expect(tooFarBehind({ sent: MAX_UNACKED_EVENTS, acked: 0, since: t }, 0, t)).toBe(false);
    expect(tooFarBehind({ sent: MAX_UNACKED_EVENTS + 1, acked: 0, since: t }, 0, t)).toBe(true);
  });

  it("closes a silent client owing more than 1000 events once its ping is overdue", () => {
    const t = 1_000_000;
    const stalled = { sent: 500, acked: 0, since: t };
    expect(tooFarBehind(stalled, 1500, t + ACK_GRACE_MS - 1)).toBe(false);
    expect(tooFarBehind(stalled, 1500, t + ACK_GRACE_MS)).toBe(true);
    expect(tooFarBehind(stalled, 500, t + 10 * ACK_GRACE_MS)).toBe(false);
  });

  it("never closes a replaying client that keeps acknowledging pages", () => {
    const t = 1_000_000;
    let flow = recordPing(recordSent({ sent: 0, acked: 0, pinged: 0, since: null }, PAGE_EVENTS), t);
    flow = acknowledge(flow, PAGE_EVENTS, t + 5);
    expect(flow.since).toBeNull();
    expect(tooFarBehind(flow, 100_000, t + 60_000)).toBe(false);
  });

  it("pings sparsely on live traffic and after every page of a backlog", () => {
    const flow = { sent: 0, acked: 0, pinged: 0, since: null };
    expect(shouldPing(recordSent(flow, PING_EVERY_EVENTS - 1), 0)).toBe(false);
    expect(shouldPing(recordSent(flow, PING_EVERY_EVENTS), 0)).toBe(true);
    expect(shouldPing(recordSent(flow, 10), 1)).toBe(true);
    expect(shouldPing(flow, 1)).toBe(false);
  });

  it("moves acknowledgements forward only, never past what was sent", () => {
    const flow = { sent: 10, acked: 4, pinged: 10, since: 1 };
    expect(acknowledge(flow, 8, 50)).toEqual({ sent: 10, acked: 8, pinged: 10, since: 50 });
    expect(acknowledge(flow, 2, 50)).toBe(flow);
    expect(acknowledge(flow, 99, 50)).toEqual({ sent: 10, acked: 10, pinged: 10, since: null });
    expect(acknowledge(flow, "8", 50)).toBe(flow);
    expect(unacked({ sent: 10, acked: 4, since: 1 })).toBe(6);
  });
});

describe("cursors", () => {
  it("round-trip sequence numbers", () => {
    expect(decodeCursor(encodeCursor(42))).toBe(42);
    expect(decodeCursor(encodeCursor(0))).toBe(0);
  });

  it.each(["", "42", "v1.", "v1.-1", "v1.01", "v2.5", "v1.5x", "v1.99999999999999999"])("refuses %j", (c) => {
    expect(decodeCursor(c)).toBeNull();
  });

  it("tells malformed, future and expired cursors apart", () => {
    expect(checkCursor("nope", 10, 0)).toEqual({ ok: false, code: "BAD_CURSOR" });
    expect(checkCursor("v1.11", 10, 0)).toEqual({ ok: false, code: "BAD_CURSOR" });
    expect(checkCursor("v1.3", 10, 5)).toEqual({ ok: false, code: "CURSOR_EXPIRED" });
    expect(checkCursor("v1.5", 10, 5)).toEqual({ ok: true, seq: 5 });
    expect(checkCursor("v1.10", 10, 5)).toEqual({ ok: true, seq: 10 });
  });
});
