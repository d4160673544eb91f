import { describe, expect, it } from "vitest";
import { judgeAnswer } from "../src/ingest-answer.ts";

const answer = (status: number, body: unknown, retryAfter: string | null = null) => ({
  status,
  retryAfter,
  text: typeof body === "string" ? body : JSON.stringify(body),
});
const error = (code: string, details: unknown[] = []) => ({ error: { code, message: `${code} message`, details } });

describe("judgeAnswer", () => {
  it("reads each signal's status from a 202", () => {
    const v = judgeAnswer(
      answer(202, {
        accepted: 1,
        duplicates: 1,
        provenanceId: "p1",
        signals: [
          { signalId: "a", status: "accepted" },
          { signalId: "b", status: "duplicate" },
        ],
      }),
      2,
    );
    expect(v).toEqual({ kind: "accepted", provenanceId: "p1", statuses: ["accepted", "duplicate"] });
  });

  it("names the refused items of a 400 with their reasons", () => {
    const v = judgeAnswer(
      answer(
        400,
        error("VALIDATION_FAILED", [
          { index: 3, path: "value", message: "too big" },
          { index: 3, path: "extra", message: "unknown field" },
          { index: 7, path: "ts", message: "in the future" },
        ]),
      ),
      10,
    );
    expect(v.kind).toBe("reject-items");
    if (v.kind !== "reject-items") return;
    expect([...v.rejected.keys()]).toEqual([3, 7]);
    expect(v.rejected.get(3)).toEqual({ code: "VALIDATION_FAILED", reason: "value: too big; extra: unknown field" });
  });

  it("splits a refused batch that names no item, and rejects a refused single", () => {
    expect(judgeAnswer(answer(400, error("MALFORMED_JSON")), 4)).toEqual({ kind: "split", code: "MALFORMED_JSON" });
    expect(judgeAnswer(answer(413, error("PAYLOAD_TOO_LARGE")), 4)).toMatchObject({ kind: "split" });
    expect(judgeAnswer(answer(413, error("PAYLOAD_TOO_LARGE")), 1)).toMatchObject({
      kind: "reject-all",
      rejection: { code: "PAYLOAD_TOO_LARGE" },
    });
  });

  it("dead-letters a 403 (the token does not cover the tenant)", () => {
    expect(judgeAnswer(answer(403, error("FORBIDDEN")), 5)).toMatchObject({
      kind: "reject-all",
      rejection: { code: "FORBIDDEN" },
    });
  });

  it.each([
    [429, "RATE_LIMITED"],
    [401, "UNAUTHENTICATED"],
    [503, "FEATURE_DISABLED"],
    [500, "INTERNAL"],
    [404, "NOT_FOUND"],
  ])("retries %i %s, passing Retry-After on", (status, code) => {
    expect(judgeAnswer(answer(status, error(code), "1"), 3)).toEqual({ kind: "retry", code, retryAfter: "1" });
  });

  it("retries an answer that is not JSON at all (a proxy's 502 page)", () => {
    expect(judgeAnswer(answer(502, "<html>bad gateway</html>"), 3)).toEqual({
      kind: "retry",
      code: "HTTP_502",
      retryAfter: null,
    });
  });
});
