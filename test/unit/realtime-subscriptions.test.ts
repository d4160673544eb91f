import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/domain/dedupe-key";
import { buildRegistry, PERSISTED_OPERATIONS } from "../../src/graphql/persisted";
import { realtimeSchema } from "../../src/realtime/schema";
import { renderEvent, resolveSubscription } from "../../src/realtime/subscriptions";

const registry = await buildRegistry(PERSISTED_OPERATIONS, sha256Hex);
const schema = realtimeSchema();
const EVENTS = PERSISTED_OPERATIONS.pq_coherence_events_v1 as string;

describe("resolveSubscription", () => {
  it("resolves every addressing form of a persisted subscription", () => {
    const hash = createHash("sha256").update(EVENTS).digest("hex");
    const forms = [
      { query: "", id: "pq_coherence_events_v1" },
      { query: "", documentId: "pq_coherence_events_v1" },
      { query: "", extensions: { persistedQuery: { version: 1, sha256Hash: hash } } },
      { query: EVENTS },
    ];
    for (const form of forms) {
      const r = resolveSubscription({ ...form, variables: { tenantId: "t1", after: "v1.3" } }, registry, schema);
      expect(r).toEqual({
        ok: true,
        sub: expect.objectContaining({ kind: "coherenceEvents", tenantId: "t1", after: "v1.3", text: EVENTS }),
      });
    }
  });

  it("refuses unknown ids, ad-hoc text, queries and bad variables with codes", () => {
    expect(resolveSubscription({ query: "", id: "nope" }, registry, schema)).toMatchObject({
      ok: false,
      code: "PERSISTED_QUERY_NOT_FOUND",
    });
    expect(resolveSubscription({ query: "subscription { x }" }, registry, schema)).toMatchObject({
      ok: false,
      code: "PERSISTED_QUERY_ONLY",
    });
    expect(
      resolveSubscription({ query: "", id: "pq_tenant_coherence_v1", variables: { tenantId: "t" } }, registry, schema),
    ).toMatchObject({
      ok: false,
      code: "BAD_REQUEST",
    });
    expect(
      resolveSubscription({ query: "", id: "pq_coherence_events_v1", variables: {} }, registry, schema),
    ).toMatchObject({
      ok: false,
      code: "VALIDATION_FAILED",
    });
  });
});

describe("renderEvent", () => {
  it("maps an event through the operation's selection set", () => {
    const event = {
      id: "s1",
      type: "t",
      value: 0.5,
      weight: 2,
      source: "p",
      ts: "2026-11-27T10:00:00.000Z",
      cursor: "v1.1",
    };
    const result = renderEvent(schema, { kind: "coherenceEvents", text: EVENTS, variables: { tenantId: "t1" } }, event);
    expect(result).toEqual({ data: { coherenceEvents: event } });
  });
});
