// Retention by policy (src/domain/retention.ts): what POLICY_RETENTION may say, and what it sets.
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config";
import { parseRetention, retentionCutoffMs } from "../../src/domain/retention";
import { expiresAtS } from "../../src/finops/usage";

describe("POLICY_RETENTION", () => {
  it("takes <name>-<days>d", () => {
    expect(parseRetention("standard-365d")).toEqual({ ok: true, days: 365 });
    expect(parseRetention("short-30d")).toEqual({ ok: true, days: 30 });
    expect(parseRetention("legal-hold-3650d")).toEqual({ ok: true, days: 3650 });
    expect(parseRetention("eu2-1d")).toEqual({ ok: true, days: 1 });
  });

  it("refuses anything else with a reason", () => {
    for (const bad of [
      "365d",
      "standard",
      "standard-365",
      "standard-0d",
      "standard-3651d",
      "Standard-30d",
      "-30d",
      "",
    ]) {
      const r = parseRetention(bad);
      expect(r.ok, bad).toBe(false);
    }
    expect(() => loadConfig({ ENVIRONMENT: "test", POLICY_RETENTION: "forever" })).toThrow(ConfigError);
    expect(loadConfig({ ENVIRONMENT: "test", POLICY_RETENTION: "short-30d" }).retentionDays).toBe(30);
    expect(loadConfig({ ENVIRONMENT: "test" }).retentionDays).toBe(365);
  });

  it("sets the cutoff and the FinOps counters' expiry", () => {
    const now = Date.parse("2026-12-04T03:17:00Z");
    expect(new Date(retentionCutoffMs(now, 30)).toISOString()).toBe("2026-11-04T03:17:00.000Z");
    // A day's counters live through the whole period after that day, and one more day.
    expect(new Date(expiresAtS("2026-12-04", 30) * 1000).toISOString()).toBe("2027-01-05T00:00:00.000Z");
    expect(expiresAtS("2026-12-04") - expiresAtS("2026-12-04", 30)).toBe(335 * 86_400);
  });
});
