import { describe, expect, it } from "vitest";
import { FixedWindowLimiter } from "../../src/domain/rate-limit";

describe("FixedWindowLimiter", () => {
  it("admits max requests per second and refuses the next with Retry-After 1", () => {
    const limiter = new FixedWindowLimiter();
    const t = 1_700_000_000_000;
    for (let i = 0; i < 3; i++) expect(limiter.admit(t + i, 3)).toEqual({ ok: true });
    expect(limiter.admit(t + 999, 3)).toEqual({ ok: false, retryAfterSeconds: 1 });
  });

  it("starts over in the next second", () => {
    const limiter = new FixedWindowLimiter();
    const t = 1_700_000_000_000;
    expect(limiter.admit(t, 1).ok).toBe(true);
    expect(limiter.admit(t + 1, 1).ok).toBe(false);
    expect(limiter.admit(t + 1000, 1).ok).toBe(true);
  });
});
