import { describe, expect, it } from "vitest";
import {
  acknowledge,
  eventsToSend,
  flushDelay,
  MAX_UNACKED_EVENTS,
  PAGE_EVENTS,
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
    expect(eventsToSend(3, { sent: 10, acked: 0 })).toBe(3);
    expect(eventsToSend(PAGE_EVENTS, { sent: 10, acked: 0 })).toBe(PAGE_EVENTS);
  });

  it("pages a large backlog, one page per acknowledgement", () => {
    expect(eventsToSend(PAGE_EVENTS + 1, { sent: 0, acked: 0 })).toBe(PAGE_EVENTS);
    expect(eventsToSend(5000, { sent: 500, acked: 0 })).toBe(0);
    expect(eventsToSend(5000, { sent: 500, acked: 500 })).toBe(PAGE_EVENTS);
  });

  it("counts a client more than 1000 frames behind as too far behind", () => {
    expect(tooFarBehind({ sent: MAX_UNACKED_EVENTS, acked: 0 })).toBe(false);
    expect(tooFarBehind({ sent: MAX_UNACKED_EVENTS + 1, acked: 0 })).toBe(true);
  });

  it("moves acknowledgements forward only, never past what was sent", () => {
    const flow = { sent: 10, acked: 4 };
    expect(acknowledge(flow, 8)).toEqual({ sent: 10, acked: 8 });
    expect(acknowledge(flow, 2)).toBe(flow);
    expect(acknowledge(flow, 99)).toEqual({ sent: 10, acked: 10 });
    expect(acknowledge(flow, "8")).toBe(flow);
    expect(unacked({ sent: 10, acked: 4 })).toBe(6);
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
