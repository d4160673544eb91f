// Contract §2, §3, §4 over real HTTP against `npm start`: ingest body forms, validation, limits,
// error precedence, dedupe, Idempotency-Key, and the score the persisted read reports afterwards.
import { describe, expect, it } from "vitest";
import { computeScore } from "../../src/domain/score";
import { mintToken } from "../support/harness";
import { beforeAllOrFail, serviceForFile } from "../support/vitest-hooks";
import {
  band,
  expectRestError,
  type HttpResult,
  INGEST_PATH,
  type IngestOk,
  ingest,
  isoAt,
  newTenant,
  ONE_MIB,
  padJson,
  readScore,
  send,
  signal,
  tenantWithToken,
} from "./helpers";

const svc = serviceForFile();

/**
 * One tenant for the tests whose requests must all be refused: each checks its signal count did not move,
 * so a wrongly stored signal fails the test that stored it. (Saves minting a token per refusal test.)
 */
let shared: { tenantId: string; token: string };
beforeAllOrFail(async () => {
  shared = await tenantWithToken();
});
const storedCount = async (t: { tenantId: string; token: string }) =>
  (await readScore(svc.baseUrl, t.tenantId, t.token)).signalCount;

function ok(res: HttpResult): IngestOk {
  expect(res.status, res.text).toBe(202);
  return res.body as IngestOk;
}

type Sig = Record<string, unknown> & { value: number; weight?: number };
const scoreOf = (signals: Sig[]) => computeScore(signals.map((s) => ({ v: s.value, w: s.weight })));

describe("ingest body forms (§3)", () => {
  it("accepts a single signal object with 202 and the {accepted,duplicates,provenanceId,signals} body", async () => {
    const { tenantId, token } = await tenantWithToken();
    const s = signal(tenantId, { value: 0.9 });
    const res = await ingest(svc.baseUrl, s, token);
    expect(res.status, res.text).toBe(202);
    expect(res.body).toEqual({
      accepted: 1,
      duplicates: 0,
      provenanceId: expect.any(String),
      signals: [{ signalId: s.signalId, status: "accepted" }],
    });
    expect((res.body as IngestOk).provenanceId.length).toBeGreaterThan(0);
    const view = await readScore(svc.baseUrl, tenantId, token);
    expect(view).toMatchObject({ tenantId, signalCount: 1, score: scoreOf([s as Sig]), status: "HEALTHY" });
  });

  it("accepts a {signals:[...]} batch and scores the weighted mean of what was accepted", async () => {
    const { tenantId, token } = await tenantWithToken();
    const signals = [
      signal(tenantId, { value: 0.2, weight: 3 }),
      signal(tenantId, { value: 0.95, weight: 0.5 }),
      signal(tenantId, { value: 0.61 }),
      signal(tenantId, { value: 0.33, weight: 2.25 }),
    ] as Sig[];
    const body = ok(await ingest(svc.baseUrl, { signals }, token));
    expect(body).toMatchObject({ accepted: 4, duplicates: 0 });
    expect(body.signals).toEqual(signals.map((s) => ({ signalId: s.signalId, status: "accepted" })));
    const expected = scoreOf(signals);
    const view = await readScore(svc.baseUrl, tenantId, token);
    expect(view).toMatchObject({ signalCount: 4, score: expected, status: band(expected) });
  });

  it("accepts NDJSON (application/x-ndjson), one signal per line", async () => {
    const { tenantId, token } = await tenantWithToken();
    const signals = [0.1, 0.5, 0.7].map((value) => signal(tenantId, { value })) as Sig[];
    const text = `${signals.map((s) => JSON.stringify(s)).join("\n")}\n`;
    const body = ok(await ingest(svc.baseUrl, text, token, { "content-type": "application/x-ndjson" }));
    expect(body).toMatchObject({ accepted: 3, duplicates: 0 });
    expect(body.signals.map((s) => s.signalId)).toEqual(signals.map((s) => s.signalId));
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({ signalCount: 3, score: scoreOf(signals) });
  });

  it("reports a tenant with no signals as score 0, UNKNOWN, signalCount 0", async () => {
    const { tenantId, token } = await tenantWithToken();
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({
      tenantId,
      score: 0,
      status: "UNKNOWN",
      signalCount: 0,
    });
  });
});

describe("validation (§3): 400 VALIDATION_FAILED with details, nothing stored", () => {
  it("refuses an unknown field with details [{index,path,message}] naming it", async () => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    const res = await ingest(svc.baseUrl, { ...signal(tenantId), colour: "blue" }, token);
    expectRestError(res, 400, "VALIDATION_FAILED", [token]);
    const details = (res.body as { error: { details: unknown[] } }).error.details;
    expect(details).toContainEqual({ index: 0, path: "colour", message: expect.any(String) });
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(before);
  });

  it("stores nothing from a batch in which one item is invalid (all-or-nothing)", async () => {
    const { tenantId, token } = await tenantWithToken();
    const first = signal(tenantId, { value: 0.3 }) as Sig;
    ok(await ingest(svc.baseUrl, first, token));
    const batch = [signal(tenantId), signal(tenantId), signal(tenantId, { value: 1.5 }), signal(tenantId)];
    const res = await ingest(svc.baseUrl, { signals: batch }, token);
    expectRestError(res, 400, "VALIDATION_FAILED", [token]);
    const details = (res.body as { error: { details: unknown[] } }).error.details;
    expect(details).toContainEqual({ index: 2, path: "value", message: expect.any(String) });
    expect(details.every((d) => (d as { index?: number }).index === 2)).toBe(true);
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({ signalCount: 1, score: scoreOf([first]) });
    // The valid items of the refused batch were not stored: sending them now accepts them.
    const again = ok(await ingest(svc.baseUrl, { signals: [batch[0], batch[1], batch[3]] }, token));
    expect(again).toMatchObject({ accepted: 3, duplicates: 0 });
  });

  it("stores nothing from an NDJSON body in which one line is invalid", async () => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    const lines = [signal(tenantId), signal(tenantId, { weight: -1 }), signal(tenantId)];
    const res = await ingest(svc.baseUrl, lines.map((l) => JSON.stringify(l)).join("\n"), token, {
      "content-type": "application/x-ndjson",
    });
    expectRestError(res, 400, "VALIDATION_FAILED", [token]);
    expect((res.body as { error: { details: unknown[] } }).error.details).toContainEqual({
      index: 1,
      path: "weight",
      message: expect.any(String),
    });
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(before);
  });

  it.each([
    ["value -0.0001", { value: -0.0001 }, "value"],
    ["value 1.0001", { value: 1.0001 }, "value"],
    ['value "0.5" (a string)', { value: "0.5" }, "value"],
    ["value null", { value: null }, "value"],
    ["weight -0.0001", { weight: -0.0001 }, "weight"],
    ["weight 1000000.001", { weight: 1_000_000.001 }, "weight"],
    ['weight "1" (a string)', { weight: "1" }, "weight"],
    ["an empty type", { type: "" }, "type"],
    ["a type of 129 chars", { type: "x".repeat(129) }, "type"],
    ["an empty source", { source: "" }, "source"],
    ["a signalId of 257 chars", { signalId: "s".repeat(257) }, "signalId"],
    ["a ts that is not RFC 3339", { ts: "yesterday" }, "ts"],
    ["a ts without an offset", { ts: "2026-01-01T00:00:00" }, "ts"],
  ])("refuses %s with path naming the field, and stores nothing", async (_name, override, path) => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    const res = await ingest(svc.baseUrl, signal(tenantId, override), token);
    expectRestError(res, 400, "VALIDATION_FAILED", [token]);
    expect((res.body as { error: { details: unknown[] } }).error.details).toContainEqual({
      index: 0,
      path,
      message: expect.any(String),
    });
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(before);
  });

  it.each([
    ["a missing value", "value"],
    ["a missing type", "type"],
    ["a missing source", "source"],
    ["a missing tenantId", "tenantId"],
  ])("refuses %s", async (_name, field) => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    const s = signal(tenantId);
    delete s[field];
    const res = await ingest(svc.baseUrl, s, token);
    expectRestError(res, 400, "VALIDATION_FAILED", [token]);
    expect((res.body as { error: { details: unknown[] } }).error.details).toContainEqual({
      index: 0,
      path: field,
      message: expect.any(String),
    });
    expect(await storedCount(shared)).toBe(before);
  });

  it("refuses an empty batch and a batch with a field besides signals", async () => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    expectRestError(await ingest(svc.baseUrl, { signals: [] }, token), 400, "VALIDATION_FAILED", [token]);
    expectRestError(
      await ingest(svc.baseUrl, { signals: [signal(tenantId)], extra: 1 }, token),
      400,
      "VALIDATION_FAILED",
      [token],
    );
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(before);
  });

  it("accepts the value bounds 0 and 1 and the weight bounds 0 and 1e6", async () => {
    const { tenantId, token } = await tenantWithToken();
    const signals = [
      signal(tenantId, { value: 0 }),
      signal(tenantId, { value: 1 }),
      signal(tenantId, { value: 0.5, weight: 0 }),
      signal(tenantId, { value: 0.7, weight: 1_000_000 }),
    ] as Sig[];
    expect(ok(await ingest(svc.baseUrl, { signals }, token))).toMatchObject({ accepted: 4, duplicates: 0 });
    const expected = scoreOf(signals);
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({
      signalCount: 4,
      score: expected,
      status: band(expected),
    });
  });

  it("refuses a tenantId with a character outside [A-Za-z0-9._:-], even with a token for that tenant", async () => {
    const tenantId = `bad/${newTenant()}`;
    const token = await mintToken(tenantId, "coherence:read coherence:write");
    const res = await ingest(svc.baseUrl, signal(tenantId), token);
    expectRestError(res, 400, "VALIDATION_FAILED", [token]);
    expect((res.body as { error: { details: unknown[] } }).error.details).toContainEqual({
      index: 0,
      path: "tenantId",
      message: expect.any(String),
    });
  });

  it("refuses a tenantId of 129 characters with 400 (validation answers before the tenant check)", async () => {
    const { token } = shared;
    const before = await storedCount(shared);
    const res = await ingest(svc.baseUrl, signal("x".repeat(129)), token);
    expectRestError(res, 400, "VALIDATION_FAILED", [token]);
    expect((res.body as { error: { details: unknown[] } }).error.details).toContainEqual({
      index: 0,
      path: "tenantId",
      message: expect.any(String),
    });
    expect(await storedCount(shared)).toBe(before);
  });

  it("refuses non-finite numbers (1e309 parses to Infinity) for value and weight", async () => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    const head = `{"tenantId":${JSON.stringify(tenantId)},"type":"t","source":"s"`;
    for (const [text, path] of [
      [`${head},"value":1e309}`, "value"],
      [`${head},"value":0.5,"weight":1e309}`, "weight"],
    ] as const) {
      const res = await ingest(svc.baseUrl, text, token);
      expectRestError(res, 400, "VALIDATION_FAILED", [token]);
      expect((res.body as { error: { details: unknown[] } }).error.details).toContainEqual({
        index: 0,
        path,
        message: expect.any(String),
      });
    }
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(before);
  });

  it("refuses a top-level JSON array with 400", async () => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    expectRestError(await ingest(svc.baseUrl, [signal(tenantId)], token), 400, undefined, [token]);
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(before);
  });

  it("accepts a tenantId of 128 characters from [A-Za-z0-9._:-]", async () => {
    const tenantId = `T.a_b:c-${"x".repeat(120)}`;
    expect(tenantId.length).toBe(128);
    const token = await mintToken(tenantId, "coherence:read coherence:write");
    ok(await ingest(svc.baseUrl, signal(tenantId), token));
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(1);
  });

  it("refuses a ts more than 5 minutes in the future and accepts one 4 minutes ahead", async () => {
    const { tenantId, token } = await tenantWithToken();
    const tooFar = await ingest(svc.baseUrl, signal(tenantId, { ts: isoAt(5 * 60_000 + 30_000) }), token);
    expectRestError(tooFar, 400, "VALIDATION_FAILED", [token]);
    expect((tooFar.body as { error: { details: unknown[] } }).error.details).toContainEqual({
      index: 0,
      path: "ts",
      message: expect.any(String),
    });
    const near = signal(tenantId, { ts: isoAt(4 * 60_000) });
    expect(ok(await ingest(svc.baseUrl, near, token))).toMatchObject({ accepted: 1, duplicates: 0 });
    // Stored (a retry is a duplicate) but outside the window until its ts: (now − 24 h, now].
    expect(ok(await ingest(svc.baseUrl, near, token))).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({ signalCount: 0, status: "UNKNOWN" });
  });

  it("accepts a signal older than 24 h but leaves it out of the score", async () => {
    const { tenantId, token } = await tenantWithToken();
    const old = signal(tenantId, { value: 0.1, ts: isoAt(-25 * 3600_000) });
    const recent = signal(tenantId, { value: 0.9, ts: isoAt(-23 * 3600_000) }) as Sig;
    expect(ok(await ingest(svc.baseUrl, { signals: [old, recent] }, token))).toMatchObject({ accepted: 2 });
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({ signalCount: 1, score: scoreOf([recent]) });
  });
});

describe("limits (§3)", () => {
  it("accepts a batch of 1000 signals", async () => {
    const { tenantId, token } = await tenantWithToken();
    const signals = Array.from({ length: 1000 }, (_, i) => signal(tenantId, { value: (i % 100) / 100 })) as Sig[];
    const body = ok(await ingest(svc.baseUrl, { signals }, token));
    expect(body).toMatchObject({ accepted: 1000, duplicates: 0 });
    expect(body.signals).toHaveLength(1000);
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({ signalCount: 1000, score: scoreOf(signals) });
  });

  it("refuses a batch of 1001 signals with 400 and stores none", async () => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    const signals = Array.from({ length: 1001 }, () => signal(tenantId));
    expectRestError(await ingest(svc.baseUrl, { signals }, token), 400, "VALIDATION_FAILED", [token]);
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(before);
  });

  it("refuses an NDJSON body of 1001 lines with 400", async () => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    const text = Array.from({ length: 1001 }, () => JSON.stringify(signal(tenantId))).join("\n");
    expectRestError(
      await ingest(svc.baseUrl, text, token, { "content-type": "application/x-ndjson" }),
      400,
      undefined,
      [token],
    );
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(before);
  });

  it("accepts a body of exactly 1 MiB", async () => {
    const { tenantId, token } = await tenantWithToken();
    const body = padJson(JSON.stringify(signal(tenantId)), ONE_MIB);
    expect(Buffer.byteLength(body)).toBe(ONE_MIB);
    ok(await ingest(svc.baseUrl, body, token));
  });

  it("refuses a body of 1 MiB + 1 byte with 413 PAYLOAD_TOO_LARGE and stores nothing", async () => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    const body = padJson(JSON.stringify(signal(tenantId)), ONE_MIB + 1);
    expectRestError(await ingest(svc.baseUrl, body, token), 413, "PAYLOAD_TOO_LARGE", [token]);
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(before);
  });

  it("refuses an oversized NDJSON body with 413", async () => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    const line = JSON.stringify(signal(tenantId, { type: "x".repeat(128), signalId: "s".repeat(256) }));
    const text = padJson(line, ONE_MIB + 1);
    expectRestError(
      await ingest(svc.baseUrl, text, token, { "content-type": "application/x-ndjson" }),
      413,
      "PAYLOAD_TOO_LARGE",
      [token],
    );
    expect(await storedCount(shared)).toBe(before);
  });

  it("refuses text/plain with 415, even when the body is valid JSON", async () => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    expectRestError(
      await ingest(svc.baseUrl, signal(tenantId), token, { "content-type": "text/plain" }),
      415,
      undefined,
      [token],
    );
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(before);
  });

  it("refuses a chunked body (no Content-Length) that grows past 1 MiB with 413", async () => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    const head = new TextEncoder().encode(JSON.stringify(signal(tenantId)));
    const spaces = new Uint8Array(64 * 1024).fill(0x20);
    let chunks = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (chunks === 0) controller.enqueue(head);
        else if (chunks <= 16) controller.enqueue(spaces);
        else controller.close();
        chunks++;
      },
    });
    const init = { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` } };
    const res = await fetch(`${svc.baseUrl}${INGEST_PATH}`, { ...init, body, duplex: "half" } as RequestInit);
    const text = await res.text();
    expectRestError(
      { status: res.status, headers: res.headers, body: JSON.parse(text), text },
      413,
      "PAYLOAD_TOO_LARGE",
      [token],
    );
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(before);
  });

  it("accepts application/json with a charset parameter", async () => {
    const { tenantId, token } = await tenantWithToken();
    ok(await ingest(svc.baseUrl, signal(tenantId), token, { "content-type": "application/json; charset=utf-8" }));
  });

  it("refuses a body that is not valid UTF-8 with 400 MALFORMED_JSON", async () => {
    const { token } = shared;
    const before = await storedCount(shared);
    const res = await send(`${svc.baseUrl}${INGEST_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    });
    expectRestError(res, 400, "MALFORMED_JSON", [token]);
    expect(await storedCount(shared)).toBe(before);
  });

  it("refuses a request without Content-Type with 415", async () => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    const res = await send(`${svc.baseUrl}${INGEST_PATH}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: new TextEncoder().encode(JSON.stringify(signal(tenantId))),
    });
    expectRestError(res, 415, undefined, [token]);
    expect(await storedCount(shared)).toBe(before);
  });

  it("refuses malformed JSON with 400 MALFORMED_JSON", async () => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    expectRestError(await ingest(svc.baseUrl, '{"tenantId":', token), 400, "MALFORMED_JSON", [token]);
    expectRestError(await ingest(svc.baseUrl, "", token), 400, "MALFORMED_JSON", [token]);
    const ndjson = `${JSON.stringify(signal(tenantId))}\n{not json}\n`;
    expectRestError(
      await ingest(svc.baseUrl, ndjson, token, { "content-type": "application/x-ndjson" }),
      400,
      "MALFORMED_JSON",
      [token],
    );
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(before);
  });
});

describe("error precedence (§2: 401 → 403 scope → 415 → 413 → 400 MALFORMED_JSON → 400 VALIDATION_FAILED → 403 tenant)", () => {
  const oversized = () => padJson('{"x":1}', ONE_MIB + 10);

  it("answers 401, not 415, with no token and a text/plain body", async () => {
    expectRestError(
      await ingest(svc.baseUrl, "hello", undefined, { "content-type": "text/plain" }),
      401,
      "UNAUTHENTICATED",
    );
  });

  it("answers 401, not 413, with a garbage token and an oversized body", async () => {
    expectRestError(await ingest(svc.baseUrl, oversized(), "garbage.token.value"), 401, "UNAUTHENTICATED", [
      "garbage.token.value",
    ]);
  });

  it("answers 403, not 415, for a token without coherence:write and a text/plain body", async () => {
    const { token } = await tenantWithToken("coherence:read");
    expectRestError(await ingest(svc.baseUrl, "hello", token, { "content-type": "text/plain" }), 403, "FORBIDDEN", [
      token,
    ]);
  });

  it("answers 403 (scope), not 400, for a token without coherence:write and malformed JSON", async () => {
    const { token } = await tenantWithToken("coherence:read");
    expectRestError(await ingest(svc.baseUrl, "{", token), 403, "FORBIDDEN", [token]);
  });

  it("answers 415, not 413, for a text/plain body over 1 MiB", async () => {
    const { token } = shared;
    const before = await storedCount(shared);
    expectRestError(await ingest(svc.baseUrl, oversized(), token, { "content-type": "text/plain" }), 415, undefined, [
      token,
    ]);
    expect(await storedCount(shared)).toBe(before);
  });

  it("answers 413, not 400 MALFORMED_JSON, for an oversized malformed body", async () => {
    const { token } = shared;
    const before = await storedCount(shared);
    expectRestError(await ingest(svc.baseUrl, `{${"x".repeat(ONE_MIB + 10)}`, token), 413, "PAYLOAD_TOO_LARGE", [
      token,
    ]);
    expect(await storedCount(shared)).toBe(before);
  });

  it("answers 400 VALIDATION_FAILED, not 403, for another tenant's signal that is also invalid", async () => {
    const { token } = shared;
    const before = await storedCount(shared);
    const res = await ingest(svc.baseUrl, signal(newTenant(), { value: 2 }), token);
    expectRestError(res, 400, "VALIDATION_FAILED", [token]);
    expect(await storedCount(shared)).toBe(before);
  });

  it("answers 403 FORBIDDEN for a valid signal of another tenant and stores nothing for either tenant", async () => {
    const a = await tenantWithToken();
    const b = await tenantWithToken();
    expectRestError(await ingest(svc.baseUrl, signal(b.tenantId), a.token), 403, "FORBIDDEN", [a.token]);
    const mixed = { signals: [signal(a.tenantId), signal(b.tenantId)] };
    expectRestError(await ingest(svc.baseUrl, mixed, a.token), 403, "FORBIDDEN", [a.token]);
    expect((await readScore(svc.baseUrl, a.tenantId, a.token)).signalCount).toBe(0);
    expect((await readScore(svc.baseUrl, b.tenantId, b.token)).signalCount).toBe(0);
  });
});

describe("dedupe (§3): key (tenantId, source, signalId, ts)", () => {
  it("reports the second delivery of a signal as duplicate and counts it once in the score", async () => {
    const { tenantId, token } = await tenantWithToken();
    const a = signal(tenantId, { value: 0.2 }) as Sig;
    const b = signal(tenantId, { value: 0.9 }) as Sig;
    const first = ok(await ingest(svc.baseUrl, a, token));
    expect(first).toMatchObject({ accepted: 1, duplicates: 0 });
    const second = ok(await ingest(svc.baseUrl, { signals: [a, b] }, token));
    expect(second).toMatchObject({
      accepted: 1,
      duplicates: 1,
      signals: [
        { signalId: a.signalId, status: "duplicate" },
        { signalId: b.signalId, status: "accepted" },
      ],
    });
    expect(second.provenanceId).not.toBe(first.provenanceId);
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({ signalCount: 2, score: scoreOf([a, b]) });
  });

  it("treats the same signalId with another ts or another source as a different signal", async () => {
    const { tenantId, token } = await tenantWithToken();
    const a = signal(tenantId, { value: 0.2, signalId: "same" }) as Sig;
    const otherTs = { ...a, value: 0.4, ts: isoAt(-120_000) } as Sig;
    const otherSource = { ...a, value: 0.6, source: "other-probe" } as Sig;
    expect(ok(await ingest(svc.baseUrl, { signals: [a, otherTs, otherSource] }, token))).toMatchObject({
      accepted: 3,
      duplicates: 0,
    });
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({
      signalCount: 3,
      score: scoreOf([a, otherTs, otherSource]),
    });
  });

  it("derives a stable signalId without one, so a retry carrying the same ts is a duplicate", async () => {
    const { tenantId, token } = await tenantWithToken();
    const { signalId: _drop, ...s } = signal(tenantId, { value: 0.42, weight: 2 });
    const first = ok(await ingest(svc.baseUrl, s, token));
    expect(first).toMatchObject({ accepted: 1, duplicates: 0 });
    const derived = first.signals[0]?.signalId;
    expect(derived).toEqual(expect.any(String));
    expect(derived?.length).toBeGreaterThan(0);
    const retry = ok(await ingest(svc.baseUrl, s, token));
    expect(retry).toMatchObject({ accepted: 0, duplicates: 1, signals: [{ signalId: derived, status: "duplicate" }] });
    // A different value is a different signal, with a different derived id.
    const other = ok(await ingest(svc.baseUrl, { ...s, value: 0.43 }, token));
    expect(other).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(other.signals[0]?.signalId).not.toBe(derived);
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({
      signalCount: 2,
      score: computeScore([
        { v: 0.42, w: 2 },
        { v: 0.43, w: 2 },
      ]),
    });
  });

  it("gives every signal of a request the same default ts, so identical ts-less signals in one request dedupe", async () => {
    const { tenantId, token } = await tenantWithToken();
    const s = { tenantId, type: "latency", source: "probe", value: 0.6 };
    const body = ok(await ingest(svc.baseUrl, { signals: [s, s] }, token));
    expect(body).toMatchObject({ accepted: 1, duplicates: 1 });
    expect(body.signals[0]?.signalId).toBe(body.signals[1]?.signalId);
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(1);
  });

  it("counts the same ts-less signal sent in two requests twice (each request has its own receive time)", async () => {
    const { tenantId, token } = await tenantWithToken();
    const s = { tenantId, type: "latency", source: "probe", value: 0.6 };
    const first = ok(await ingest(svc.baseUrl, s, token));
    const second = ok(await ingest(svc.baseUrl, s, token));
    expect(first).toMatchObject({ accepted: 1 });
    expect(second).toMatchObject({ accepted: 1 });
    expect(second.signals[0]?.signalId).not.toBe(first.signals[0]?.signalId);
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(2);
  });
});

describe("Idempotency-Key (§3)", () => {
  // Bodies without ts: re-applying one would store new signals, so only the key can keep the count.
  const tsLess = (tenantId: string, value: number) => ({ tenantId, type: "latency", source: "probe", value });

  it("replays the first response for the same key and body, with Idempotency-Replayed: true, applying nothing", async () => {
    const { tenantId, token } = await tenantWithToken();
    const body = { signals: [tsLess(tenantId, 0.3), tsLess(tenantId, 0.8)] };
    const headers = { "idempotency-key": `k-${crypto.randomUUID()}` };
    const first = await ingest(svc.baseUrl, body, token, headers);
    expect(first.status, first.text).toBe(202);
    expect(first.headers.get("idempotency-replayed")).not.toBe("true");
    const second = await ingest(svc.baseUrl, body, token, headers);
    expect(second.status, second.text).toBe(202);
    expect(second.headers.get("idempotency-replayed")).toBe("true");
    expect(second.body).toEqual(first.body);
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({
      signalCount: 2,
      score: computeScore([{ v: 0.3 }, { v: 0.8 }]),
    });
  });

  it("answers 422 IDEMPOTENCY_KEY_REUSED for the same key with a different body and applies nothing", async () => {
    const { tenantId, token } = await tenantWithToken();
    const headers = { "idempotency-key": `k-${crypto.randomUUID()}` };
    ok(await ingest(svc.baseUrl, tsLess(tenantId, 0.3), token, headers));
    const res = await ingest(svc.baseUrl, tsLess(tenantId, 0.9), token, headers);
    expectRestError(res, 422, "IDEMPOTENCY_KEY_REUSED", [token]);
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({
      signalCount: 1,
      score: computeScore([{ v: 0.3 }]),
    });
  });

  it("treats a body that differs only in whitespace as a different body (byte-identical rule)", async () => {
    const { tenantId, token } = await tenantWithToken();
    const headers = { "idempotency-key": `k-${crypto.randomUUID()}` };
    const text = JSON.stringify(tsLess(tenantId, 0.3));
    ok(await ingest(svc.baseUrl, text, token, headers));
    expectRestError(await ingest(svc.baseUrl, `${text} `, token, headers), 422, "IDEMPOTENCY_KEY_REUSED", [token]);
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(1);
  });

  it("does not remember a failed (4xx) attempt: a later valid request with that key is applied", async () => {
    const { tenantId, token } = await tenantWithToken();
    const headers = { "idempotency-key": `k-${crypto.randomUUID()}` };
    expectRestError(await ingest(svc.baseUrl, tsLess(tenantId, 7), token, headers), 400, "VALIDATION_FAILED", [token]);
    expectRestError(await ingest(svc.baseUrl, tsLess(newTenant(), 0.5), token, headers), 403, "FORBIDDEN", [token]);
    const res = await ingest(svc.baseUrl, tsLess(tenantId, 0.5), token, headers);
    expect(res.status, res.text).toBe(202);
    expect(res.headers.get("idempotency-replayed")).not.toBe("true");
    expect(res.body).toMatchObject({ accepted: 1, duplicates: 0 });
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(1);
  });

  it("scopes keys per tenant: two tenants using the same key are both applied", async () => {
    const a = await tenantWithToken();
    const b = await tenantWithToken();
    const headers = { "idempotency-key": `shared-${crypto.randomUUID()}` };
    const ra = await ingest(svc.baseUrl, tsLess(a.tenantId, 0.4), a.token, headers);
    const rb = await ingest(svc.baseUrl, tsLess(b.tenantId, 0.6), b.token, headers);
    expect(ra.status, ra.text).toBe(202);
    expect(rb.status, rb.text).toBe(202);
    expect(rb.headers.get("idempotency-replayed")).not.toBe("true");
    expect(rb.body).toMatchObject({ accepted: 1 });
    expect((rb.body as IngestOk).provenanceId).not.toBe((ra.body as IngestOk).provenanceId);
    expect(await readScore(svc.baseUrl, a.tenantId, a.token)).toMatchObject({
      signalCount: 1,
      score: computeScore([{ v: 0.4 }]),
    });
    expect(await readScore(svc.baseUrl, b.tenantId, b.token)).toMatchObject({
      signalCount: 1,
      score: computeScore([{ v: 0.6 }]),
    });
  });

  it("refuses an empty Idempotency-Key with 400 and stores nothing", async () => {
    const { tenantId, token } = shared;
    const before = await storedCount(shared);
    expectRestError(
      await ingest(svc.baseUrl, tsLess(tenantId, 0.5), token, { "idempotency-key": "" }),
      400,
      undefined,
      [token],
    );
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(before);
  });

  it("accepts a key of 255 characters and refuses one of 256 with 400", async () => {
    const { tenantId, token } = await tenantWithToken();
    const long = await ingest(svc.baseUrl, tsLess(tenantId, 0.5), token, { "idempotency-key": "k".repeat(256) });
    expectRestError(long, 400, undefined, [token]);
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(0);
    ok(await ingest(svc.baseUrl, tsLess(tenantId, 0.5), token, { "idempotency-key": "k".repeat(255) }));
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(1);
  });

  it("applies concurrent retries with one key once (each answers the first 202 or 409 IDEMPOTENCY_KEY_IN_FLIGHT)", async () => {
    const { tenantId, token } = await tenantWithToken();
    const headers = { "idempotency-key": `k-${crypto.randomUUID()}` };
    const body = JSON.stringify(tsLess(tenantId, 0.5));
    const results = await Promise.all(Array.from({ length: 8 }, () => ingest(svc.baseUrl, body, token, headers)));
    const accepted = results.filter((r) => r.status === 202);
    expect(accepted.length).toBeGreaterThan(0);
    for (const r of results) {
      if (r.status === 202) expect(r.body).toEqual(accepted[0]?.body);
      else expectRestError(r, 409, "IDEMPOTENCY_KEY_IN_FLIGHT", [token]);
    }
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(1);
  });
});

describe("score and status bands (§4)", () => {
  it.each([
    [[0.75], "HEALTHY"],
    [[0.7499], "WARN"],
    [[0.5], "WARN"],
    [[0.4999], "CRITICAL"],
    [[0, 1, 0.5], "WARN"],
  ])("values %j give status %s", async (values, status) => {
    const { tenantId, token } = await tenantWithToken();
    const signals = values.map((value) => signal(tenantId, { value })) as Sig[];
    ok(await ingest(svc.baseUrl, { signals }, token));
    const expected = scoreOf(signals);
    expect(band(expected)).toBe(status);
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({ score: expected, status });
  });

  it("reports UNKNOWN with score 0 when the window's total weight is 0", async () => {
    const { tenantId, token } = await tenantWithToken();
    ok(await ingest(svc.baseUrl, { signals: [signal(tenantId, { value: 0.9, weight: 0 })] }, token));
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({
      score: computeScore([{ v: 0.9, w: 0 }]),
      status: "UNKNOWN",
      signalCount: 1,
    });
  });

  it("rounds the score to 4 decimals exactly as computeScore does", async () => {
    const { tenantId, token } = await tenantWithToken();
    const signals = [
      signal(tenantId, { value: 1 / 3, weight: 7 }),
      signal(tenantId, { value: 0.123456789, weight: 0.3 }),
      signal(tenantId, { value: 0.987654321, weight: 11 }),
    ] as Sig[];
    ok(await ingest(svc.baseUrl, { signals }, token));
    const view = await readScore(svc.baseUrl, tenantId, token);
    expect(view.score).toBe(scoreOf(signals));
    expect(view.updatedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  });

  it("keeps tenants apart: one tenant's signals never move another's score", async () => {
    const a = await tenantWithToken();
    const b = await tenantWithToken();
    ok(await ingest(svc.baseUrl, signal(a.tenantId, { value: 0.1 }), a.token));
    ok(await ingest(svc.baseUrl, signal(b.tenantId, { value: 0.9 }), b.token));
    expect(await readScore(svc.baseUrl, a.tenantId, a.token)).toMatchObject({
      score: computeScore([{ v: 0.1 }]),
      signalCount: 1,
    });
    expect(await readScore(svc.baseUrl, b.tenantId, b.token)).toMatchObject({
      score: computeScore([{ v: 0.9 }]),
      signalCount: 1,
    });
  });
});

describe("routes and health (§2, §8)", () => {
  it("answers GET /healthz with 200 {status:ok}", async () => {
    const res = await send(`${svc.baseUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
  });

  it("answers unknown routes with a JSON 404 in the error shape", async () => {
    expectRestError(await send(`${svc.baseUrl}/nope`), 404);
    expectRestError(await send(`${svc.baseUrl}/v1/coherence/nope`, { method: "POST", body: "{}" }), 404);
  });

  it("answers a non-POST method on the ingest route with a JSON 4xx in the error shape", async () => {
    const res = await send(`${svc.baseUrl}${INGEST_PATH}`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expectRestError(res, res.status);
  });
});
