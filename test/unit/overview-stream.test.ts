import { describe, expect, it } from "vitest";
import type { TenantSummary } from "../../src/domain/overview";
import type { ScoreStatus } from "../../src/domain/score";
import {
  OVERVIEW_ACK_GRACE_MS,
  OVERVIEW_MAX_UNACKED,
  OVERVIEW_PAGE_ROWS,
  type OverviewRow,
  overviewMessages,
  overviewRow,
  overviewTooFarBehind,
  worstFirst,
} from "../../src/realtime/overview-stream";

const totals = {
  total: 0,
  byStatus: { CRITICAL: 0, WARN: 0, HEALTHY: 0, UNKNOWN: 0 },
  asOf: "2026-12-01T00:00:00.000Z",
};

function row(tenantId: string, status: ScoreStatus, score: number): OverviewRow {
  return { tenantId, status, score, signalCount: 1, lastSignalAt: null, updatedAt: totals.asOf };
}

describe("the live overview's order and messages", () => {
  it("orders worst first: status rank, then the lower score, then the tenant id", () => {
    const rows = [
      row("h", "HEALTHY", 0.9),
      row("u", "UNKNOWN", 0),
      row("w2", "WARN", 0.6),
      row("c", "CRITICAL", 0.3),
      row("w1", "WARN", 0.6),
      row("w0", "WARN", 0.55),
    ];
    expect(rows.sort(worstFirst).map((r) => r.tenantId)).toEqual(["c", "w0", "w1", "w2", "h", "u"]);
  });

  it("sends a snapshot in pages with only the last one complete, each page worst first", () => {
    const n = OVERVIEW_PAGE_ROWS * 2 + 7;
    const rows = Array.from({ length: n }, (_, i) => row(`t${i}`, "HEALTHY", 0.75 + (i % 25) / 100));
    const messages = overviewMessages("SNAPSHOT", rows, totals);
    expect(messages.map((m) => [m.kind, m.complete, m.tenants.length])).toEqual([
      ["SNAPSHOT", false, OVERVIEW_PAGE_ROWS],
      ["SNAPSHOT", false, OVERVIEW_PAGE_ROWS],
      ["SNAPSHOT", true, 7],
    ]);
    const all = messages.flatMap((m) => m.tenants);
    expect(new Set(all.map((r) => r.tenantId)).size).toBe(n);
    for (let i = 1; i < all.length; i++)
      expect(worstFirst(all[i - 1] as OverviewRow, all[i] as OverviewRow)).toBeLessThan(0);
  });

  it("sends an empty snapshot as one complete message, and no message for no change", () => {
    expect(overviewMessages("SNAPSHOT", [], totals)).toEqual([
      { kind: "SNAPSHOT", complete: true, ...totals, tenants: [] },
    ]);
    expect(overviewMessages("CHANGES", [], totals)).toEqual([]);
    expect(overviewMessages("CHANGES", [row("a", "WARN", 0.5)], totals).map((m) => m.complete)).toEqual([true]);
  });

  it("renders a summary's times as RFC 3339, and no signal yet as null", () => {
    const s: TenantSummary = {
      tenantId: "acme",
      score: 0.42,
      status: "CRITICAL",
      signalCount: 3,
      lastSignalMs: Date.UTC(2026, 11, 1, 10, 0, 0),
      updatedMs: Date.UTC(2026, 11, 1, 10, 0, 1),
    };
    expect(overviewRow(s)).toEqual({
      tenantId: "acme",
      score: 0.42,
      status: "CRITICAL",
      signalCount: 3,
      lastSignalAt: "2026-12-01T10:00:00.000Z",
      updatedAt: "2026-12-01T10:00:01.000Z",
    });
    expect(overviewRow({ ...s, lastSignalMs: null }).lastSignalAt).toBeNull();
  });
});

describe("the live overview's flow control", () => {
  it("closes a subscriber only when it owes too many messages and left a ping unanswered past the grace", () => {
    const owing = { sent: OVERVIEW_MAX_UNACKED + 1, acked: 0, since: 1_000 };
    expect(overviewTooFarBehind(owing, 1_000 + OVERVIEW_ACK_GRACE_MS - 1)).toBe(false);
    expect(overviewTooFarBehind(owing, 1_000 + OVERVIEW_ACK_GRACE_MS)).toBe(true);
    // Owing exactly the limit, or having answered, is fine however long ago the ping went out.
    expect(overviewTooFarBehind({ ...owing, sent: OVERVIEW_MAX_UNACKED }, 1e9)).toBe(false);
    expect(overviewTooFarBehind({ ...owing, since: null }, 1e9)).toBe(false);
  });
});
