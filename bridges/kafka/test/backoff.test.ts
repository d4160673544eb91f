import { describe, expect, it } from "vitest";
import { backoffDelay, retryAfterMs, retryDelay } from "../src/backoff.ts";

const policy = { baseMs: 100, maxMs: 5000 };

describe("backoff", () => {
  it("doubles from the base, is capped, and jitters within the upper half", () => {
    expect(backoffDelay(0, policy, () => 0)).toBe(50);
    expect(backoffDelay(0, policy, () => 1)).toBe(100);
    expect(backoffDelay(3, policy, () => 1)).toBe(800);
    expect(backoffDelay(50, policy, () => 1)).toBe(5000);
    expect(backoffDelay(50, policy, () => 0)).toBe(2500);
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    const now = Date.parse("2026-11-27T10:00:00Z");
    expect(retryAfterMs("1", now)).toBe(1000);
    expect(retryAfterMs("Fri, 27 Nov 2026 10:00:03 GMT", now)).toBe(3000);
    expect(retryAfterMs("Fri, 27 Nov 2026 09:00:00 GMT", now)).toBe(0);
    expect(retryAfterMs("soon", now)).toBeNull();
    expect(retryAfterMs(null, now)).toBeNull();
  });

  it("waits what Retry-After asks, capped, else backs off", () => {
    expect(retryDelay(5, 1000, policy)).toBe(1000);
    expect(retryDelay(0, 3_600_000, policy)).toBe(5000);
    expect(retryDelay(1, null, policy, () => 1)).toBe(200);
  });
});
