// Contract §5 over real HTTP against `npm start`: persisted-operation addressing, the read and the mutation,
// and every /graphql failure in the GraphQL error shape.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { computeScore } from "../../src/domain/score";
import { mintToken } from "../support/harness";
import { serviceForFile } from "../support/vitest-hooks";
import {
  band,
  expectGraphqlError,
  graphql,
  type HttpResult,
  ingest,
  isoAt,
  newTenant,
  ONE_MIB,
  OPS,
  padJson,
  readScore,
  send,
  signal,
  tenantWithToken,
} from "./helpers";

const svc = serviceForFile();

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** Publishes one signal through `pq_publish_signal_v1`. */
function publish(token: string, input: Record<string, unknown>): Promise<HttpResult> {
  return graphql(svc.baseUrl, { id: "pq_publish_signal_v1", variables: { input } }, token);
}

function input(tenantId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { tenantId, type: "latency", source: "probe", value: 0.7, ...overrides };
}

describe("persisted operations (§5)", () => {
  it("serves pq_tenant_coherence_v1 by each of the five addressing forms, with the same data", async () => {
    const { tenantId, token } = await tenantWithToken();
    const signals = [signal(tenantId, { value: 0.55, weight: 2 }), signal(tenantId, { value: 0.9 })];
    expect((await ingest(svc.baseUrl, { signals }, token)).status).toBe(202);
    const expected = computeScore([{ v: 0.55, w: 2 }, { v: 0.9 }]);
    const text = OPS.pq_tenant_coherence_v1;
    const variables = { tenantId };
    const forms: Record<string, unknown> = {
      id: { id: "pq_tenant_coherence_v1", variables },
      documentId: { documentId: "pq_tenant_coherence_v1", variables },
      "id = sha256 of the text": { id: sha256(text), variables },
      "extensions.persistedQuery": {
        variables,
        extensions: { persistedQuery: { version: 1, sha256Hash: sha256(text) } },
      },
      "byte-identical query text": { query: text, variables },
    };
    const answers: unknown[] = [];
    for (const [form, body] of Object.entries(forms)) {
      const res = await graphql(svc.baseUrl, body, token);
      expect(res.status, `${form}: ${res.text}`).toBe(200);
      expect(res.body, form).toEqual({
        data: { tenantCoherence: { score: expected, status: band(expected), updatedAt: expect.any(String) } },
      });
      answers.push(res.body);
    }
    for (const a of answers) expect(a).toEqual(answers[0]);
  });

  it("serves pq_tenant_coherence_full_v1 with tenantId and signalCount, also by its sha256", async () => {
    const { tenantId, token } = await tenantWithToken();
    const signals = [0.1, 0.2, 0.3].map((value) => signal(tenantId, { value }));
    expect((await ingest(svc.baseUrl, { signals }, token)).status).toBe(202);
    const expected = computeScore([{ v: 0.1 }, { v: 0.2 }, { v: 0.3 }]);
    for (const id of ["pq_tenant_coherence_full_v1", sha256(OPS.pq_tenant_coherence_full_v1)]) {
      const res = await graphql(svc.baseUrl, { id, variables: { tenantId } }, token);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({
        data: {
          tenantCoherence: {
            tenantId,
            score: expected,
            status: band(expected),
            updatedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/),
            signalCount: 3,
          },
        },
      });
    }
  });

  it("prefers the id when a request carries both an id and a query text of the same operation", async () => {
    const { tenantId, token } = await tenantWithToken();
    const res = await graphql(
      svc.baseUrl,
      { id: "pq_tenant_coherence_full_v1", query: OPS.pq_tenant_coherence_full_v1, variables: { tenantId } },
      token,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ data: { tenantCoherence: { tenantId, signalCount: 0, status: "UNKNOWN" } } });
  });

  it("answers an unknown id with 400 PERSISTED_QUERY_NOT_FOUND", async () => {
    const { tenantId, token } = await tenantWithToken();
    expectGraphqlError(
      await graphql(svc.baseUrl, { id: "pq_does_not_exist_v1", variables: { tenantId } }, token),
      400,
      "PERSISTED_QUERY_NOT_FOUND",
      [token],
    );
    expectGraphqlError(
      await graphql(svc.baseUrl, { documentId: sha256("nope"), variables: { tenantId } }, token),
      400,
      "PERSISTED_QUERY_NOT_FOUND",
      [token],
    );
    expectGraphqlError(
      await graphql(
        svc.baseUrl,
        { variables: { tenantId }, extensions: { persistedQuery: { version: 1, sha256Hash: sha256("nope") } } },
        token,
      ),
      400,
      "PERSISTED_QUERY_NOT_FOUND",
      [token],
    );
  });

  it("refuses an ad-hoc query text with 400 PERSISTED_QUERY_ONLY", async () => {
    const { tenantId, token } = await tenantWithToken();
    for (const query of [
      "{ __typename }",
      "query($tenantId:ID!){ tenantCoherence(tenantId:$tenantId){ score } }",
      `${OPS.pq_tenant_coherence_v1} `, // not byte-identical
      "{ __schema { types { name } } }",
    ]) {
      const res = await graphql(svc.baseUrl, { query, variables: { tenantId } }, token);
      expectGraphqlError(res, 400, "PERSISTED_QUERY_ONLY", [token]);
      expect(JSON.stringify(res.body)).not.toContain("__Schema");
    }
  });
});

describe("pq_publish_signal_v1 (§5)", () => {
  it("returns true and the published signal is counted in the score", async () => {
    const { tenantId, token } = await tenantWithToken();
    const res = await publish(token, input(tenantId, { value: 0.35, weight: 4, ts: isoAt(-30_000), signalId: "m-1" }));
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ data: { publishCoherenceSignal: true } });
    const expected = computeScore([{ v: 0.35, w: 4 }]);
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({
      signalCount: 1,
      score: expected,
      status: band(expected),
    });
  });

  it("is reachable by the sha256 of its text and by its byte-identical text", async () => {
    const { tenantId, token } = await tenantWithToken();
    const variables = { input: input(tenantId, { value: 0.6, ts: isoAt(-10_000), signalId: "a" }) };
    const byHash = await graphql(svc.baseUrl, { id: sha256(OPS.pq_publish_signal_v1), variables }, token);
    expect(byHash.body).toEqual({ data: { publishCoherenceSignal: true } });
    const variables2 = { input: input(tenantId, { value: 0.8, ts: isoAt(-10_000), signalId: "b" }) };
    const byText = await graphql(svc.baseUrl, { query: OPS.pq_publish_signal_v1, variables: variables2 }, token);
    expect(byText.body).toEqual({ data: { publishCoherenceSignal: true } });
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({
      signalCount: 2,
      score: computeScore([{ v: 0.6 }, { v: 0.8 }]),
    });
  });

  it("counts the same input published twice with its ts once (same dedupe as ingest)", async () => {
    const { tenantId, token } = await tenantWithToken();
    const same = input(tenantId, { value: 0.2, ts: isoAt(-45_000) }); // no signalId: derived from the fields
    for (let i = 0; i < 2; i++) {
      expect((await publish(token, same)).body).toEqual({ data: { publishCoherenceSignal: true } });
    }
    const other = input(tenantId, { value: 0.9, ts: isoAt(-45_000) });
    expect((await publish(token, other)).body).toEqual({ data: { publishCoherenceSignal: true } });
    expect(await readScore(svc.baseUrl, tenantId, token)).toMatchObject({
      signalCount: 2,
      score: computeScore([{ v: 0.2 }, { v: 0.9 }]),
    });
  });

  it("dedupes across the mutation and HTTP ingest: the same signal sent both ways counts once", async () => {
    const { tenantId, token } = await tenantWithToken();
    const s = signal(tenantId, { value: 0.45 });
    expect((await publish(token, s)).body).toEqual({ data: { publishCoherenceSignal: true } });
    const res = await ingest(svc.baseUrl, s, token);
    expect(res.status, res.text).toBe(202);
    expect(res.body).toMatchObject({ accepted: 0, duplicates: 1 });
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(1);
  });

  it.each([
    ["value 1.5", { value: 1.5 }],
    ["value -0.0001", { value: -0.0001 }],
    ["weight -1", { weight: -1 }],
    ["weight above 1e6", { weight: 1_000_001 }],
    ["ts 6 minutes in the future", { ts: isoAt(6 * 60_000) }],
    ["ts that is not RFC 3339", { ts: "not-a-date" }],
    ["an empty type", { type: "" }],
  ])("refuses %s with errors[0].extensions.code VALIDATION_FAILED and stores nothing", async (_name, override) => {
    const { tenantId, token } = await tenantWithToken();
    const res = await publish(token, input(tenantId, override));
    expectGraphqlError(res, null, "VALIDATION_FAILED", [token]);
    expect(JSON.stringify(res.body)).not.toContain('"publishCoherenceSignal":true');
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(0);
  });

  it("answers VALIDATION_FAILED, not FORBIDDEN, for another tenant's input that is also invalid (§2 order)", async () => {
    const { token } = await tenantWithToken();
    expectGraphqlError(await publish(token, input(newTenant(), { value: 2 })), null, "VALIDATION_FAILED", [token]);
  });

  it.each([
    ["a string value", { value: "high" }],
    ["an unknown input field", { colour: "blue" }],
    ["a missing required field", { type: undefined }],
  ])("answers an input with %s with 400 and an UPPER_SNAKE extensions.code, storing nothing", async (_n, override) => {
    const { tenantId, token } = await tenantWithToken();
    const res = await publish(token, input(tenantId, override));
    expect(res.status, res.text).toBe(400);
    expect(res.body, res.text).toMatchObject({
      errors: [{ message: expect.any(String), extensions: { code: expect.stringMatching(/^[A-Z][A-Z0-9_]*$/) } }],
    });
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(0);
  });

  it("refuses a read-only token calling the mutation with FORBIDDEN and stores nothing", async () => {
    const reader = await tenantWithToken("coherence:read");
    const res = await publish(reader.token, input(reader.tenantId));
    expectGraphqlError(res, null, "FORBIDDEN", [reader.token]);
    expect((await readScore(svc.baseUrl, reader.tenantId, reader.token)).signalCount).toBe(0);
  });

  it("refuses publishing for another tenant with FORBIDDEN and stores nothing there", async () => {
    const a = await tenantWithToken();
    const b = await tenantWithToken();
    const res = await publish(a.token, input(b.tenantId));
    expectGraphqlError(res, null, "FORBIDDEN", [a.token]);
    expect((await readScore(svc.baseUrl, b.tenantId, b.token)).signalCount).toBe(0);
  });
});

describe("/graphql failures in the GraphQL shape (§2, §5)", () => {
  it("answers a missing token with 401 {errors:[{message,extensions:{code:UNAUTHENTICATED}}]}", async () => {
    const res = await graphql(
      svc.baseUrl,
      { id: "pq_tenant_coherence_v1", variables: { tenantId: newTenant() } },
      undefined,
    );
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      errors: [{ message: expect.any(String), extensions: expect.objectContaining({ code: "UNAUTHENTICATED" }) }],
    });
  });

  it("answers 401 (not 415) with no token and a text/plain body", async () => {
    const res = await graphql(svc.baseUrl, "hello", undefined, { "content-type": "text/plain" });
    expectGraphqlError(res, 401, "UNAUTHENTICATED");
  });

  it("answers a request without its required variables with 400 and an UPPER_SNAKE extensions.code", async () => {
    const { token } = await tenantWithToken();
    const res = await graphql(svc.baseUrl, { id: "pq_tenant_coherence_v1" }, token);
    expect(res.status, res.text).toBe(400);
    expect(res.body, res.text).toMatchObject({
      errors: [{ message: expect.any(String), extensions: { code: expect.stringMatching(/^[A-Z][A-Z0-9_]*$/) } }],
    });
  });

  it("answers 403 FORBIDDEN (scope), not 415, for a token without a GraphQL scope and a text/plain body", async () => {
    const tenantId = newTenant();
    // finops:read is a GraphQL scope (tenantUsage); metrics:read is not.
    const token = await mintToken(tenantId, "metrics:read");
    expectGraphqlError(await graphql(svc.baseUrl, "hello", token, { "content-type": "text/plain" }), 403, "FORBIDDEN", [
      token,
    ]);
  });

  it("answers a method other than GET/POST on /graphql with 405 in the GraphQL shape", async () => {
    const { token } = await tenantWithToken();
    const res = await send(`${svc.baseUrl}/graphql`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: "{}",
    });
    expectGraphqlError(res, 405, "METHOD_NOT_ALLOWED", [token]);
  });

  it("answers a read of another tenant with errors[0].extensions.code FORBIDDEN and no data for it", async () => {
    const a = await tenantWithToken();
    const b = await tenantWithToken();
    expect((await ingest(svc.baseUrl, signal(b.tenantId), b.token)).status).toBe(202);
    const res = await graphql(
      svc.baseUrl,
      { id: "pq_tenant_coherence_full_v1", variables: { tenantId: b.tenantId } },
      a.token,
    );
    expectGraphqlError(res, null, "FORBIDDEN", [a.token]);
    expect(JSON.stringify(res.body)).not.toContain('"signalCount"');
  });

  it("answers a body over 1 MiB with 413 PAYLOAD_TOO_LARGE", async () => {
    const { tenantId, token } = await tenantWithToken();
    const body = padJson(JSON.stringify({ id: "pq_tenant_coherence_v1", variables: { tenantId } }), ONE_MIB + 1);
    expectGraphqlError(await graphql(svc.baseUrl, body, token), 413, "PAYLOAD_TOO_LARGE", [token]);
  });

  it("answers a body of exactly 1 MiB normally", async () => {
    const { tenantId, token } = await tenantWithToken();
    const body = padJson(JSON.stringify({ id: "pq_tenant_coherence_v1", variables: { tenantId } }), ONE_MIB);
    const res = await graphql(svc.baseUrl, body, token);
    expect(res.status, res.text.slice(0, 500)).toBe(200);
    expect(res.body).toMatchObject({ data: { tenantCoherence: { status: "UNKNOWN" } } });
  });

  it("answers malformed JSON with 400 MALFORMED_JSON", async () => {
    const { token } = await tenantWithToken();
    expectGraphqlError(await graphql(svc.baseUrl, '{"id": "pq_tenant_coherence_v1",', token), 400, "MALFORMED_JSON", [
      token,
    ]);
  });

  it("answers a non-JSON content type with 415", async () => {
    const { tenantId, token } = await tenantWithToken();
    const body = JSON.stringify({ id: "pq_tenant_coherence_v1", variables: { tenantId } });
    const res = await graphql(svc.baseUrl, body, token, { "content-type": "text/plain" });
    expect(res.status, res.text).toBe(415);
    expect(res.body).toMatchObject({
      errors: [{ message: expect.any(String), extensions: { code: expect.any(String) } }],
    });
    expect((res.body as { error?: unknown }).error).toBeUndefined();
    expect(res.text).not.toContain(token);
  });

  it("answers 415 (not 413) for an oversized text/plain body", async () => {
    const { token } = await tenantWithToken();
    const res = await graphql(svc.baseUrl, padJson("{}", ONE_MIB + 10), token, { "content-type": "text/plain" });
    expect(res.status, res.text).toBe(415);
    expect(res.body).toMatchObject({ errors: [{ extensions: { code: expect.any(String) } }] });
  });

  it("answers 413 (not 400) for an oversized malformed body", async () => {
    const { token } = await tenantWithToken();
    expectGraphqlError(await graphql(svc.baseUrl, `{${"x".repeat(ONE_MIB + 10)}`, token), 413, "PAYLOAD_TOO_LARGE", [
      token,
    ]);
  });

  it("answers an unknown path below /graphql with a JSON 404", async () => {
    const res = await send(`${svc.baseUrl}/graphql/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type") ?? "").toMatch(/json/);
  });
});
