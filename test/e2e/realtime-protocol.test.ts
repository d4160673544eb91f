// Contract §6 at the protocol level, against `npm start`: a raw `ws` client speaks graphql-transport-ws by
// hand, so each close code and per-subscription `error` message can be provoked exactly; plus the route's
// plain-HTTP answers (426 without an upgrade, 503 with FEATURE_COHERENCE=false).
import { afterAll, describe, it } from "vitest";
import { mintToken, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";
import { expectRestError, newTenant, send, signal } from "./helpers";
import { byId, ingestAccepted } from "./ws-client";
import { type CloseInfo, type Frame, RawSocket, realtimeUrl, refusedUpgrade } from "./ws-raw";

const READ = "coherence:read";
const READ_WRITE = "coherence:read coherence:write";

let svc: RunningService;
let off: RunningService;
beforeAllOrFail(async () => {
  // Two services at once: the one under test, and one with the feature flag off (§8). Both are kept even when
  // the other fails to start, so afterAll stops whatever did start.
  const [main, flagOff] = await Promise.allSettled([
    startService(),
    startService({ env: { FEATURE_COHERENCE: "false" } }),
  ]);
  if (main.status === "fulfilled") svc = main.value;
  if (flagOff.status === "fulfilled") off = flagOff.value;
  for (const r of [main, flagOff]) if (r.status === "rejected") throw r.reason;
});
afterAll(async () => {
  await Promise.all([svc?.stop(), off?.stop()]);
});

/** A raw socket on a fresh tenant's route (upgraded with a read token), plus that tenant and a `scope` token. */
async function fresh(scope = READ): Promise<{ tenantId: string; token: string; raw: RawSocket }> {
  const tenantId = newTenant("rt");
  const [token, upgradeToken] = await Promise.all([mintToken(tenantId, scope), mintToken(tenantId, READ)]);
  const raw = await RawSocket.open(realtimeUrl(svc.baseUrl, tenantId), upgradeToken);
  return { tenantId, token, raw };
}

/** A raw socket that has completed `connection_init`. */
async function ready(scope = READ): Promise<{ tenantId: string; token: string; raw: RawSocket }> {
  const f = await fresh(scope);
  await f.raw.init(f.token);
  return f;
}

const isError = (id: string) => (f: Frame) => f.id === id && f.type === "error";
const isNext = (id: string) => (f: Frame) => f.id === id && f.type === "next";
const codeOf = (f: Frame) => (f.payload as Array<{ extensions?: { code?: unknown } }>)[0]?.extensions?.code;

/** The socket answers a ping after all, i.e. it was left open. */
async function stillOpen(raw: RawSocket): Promise<void> {
  const before = raw.frames.items.length;
  raw.send({ type: "ping" });
  await raw.frames.until((fs) => fs.slice(before).some((f) => f.type === "pong"), 5_000, "pong (socket still open)");
}

describe.concurrent("connection_init and close codes (§6)", () => {
  it("closes a socket that never sends connection_init with 4408 within 11 s of the upgrade", async ({ expect }) => {
    const { raw } = await fresh();
    // The raw client drops TCP RAW_CLOSE_TIMEOUT_MS (ws-client.ts) after the close frame arrives, so the close event marks
    // the frame's arrival even when the runtime keeps the TCP connection of a hibernated socket open longer.
    const closed: CloseInfo = await raw.closedWithin(22_000);
    console.info(
      `4408 close event ${closed.afterMs} ms after the 101 (${closed.afterRequestMs} ms after the upgrade request)`,
    );
    // 1006 means the transport dropped without a close frame, e.g. wrangler dev reloading: show why.
    if (closed.code === 1006) console.info(svc.output().slice(-2000));
    expect(closed.code, closed.reason).toBe(4408);
    expect(closed.afterMs).toBeLessThanOrEqual(11_000);
    expect(raw.frames.items.map((f) => f.type)).not.toContain("connection_ack");
  });

  it("closes with 4401 on connection_init with a malformed, expired or missing token", async ({ expect }) => {
    const tenantId = newTenant("rt");
    const expired = await mintToken(tenantId, READ, ["--ttl", "-60"]);
    // The upgrade itself is authenticated (docs/api.md §4.5); connection_init is judged on its own token.
    const upgradeToken = await mintToken(tenantId, READ);
    const payloads: Record<string, unknown> = {
      "not a JWT": { authorization: "Bearer not-a-jwt" },
      expired: { authorization: `Bearer ${expired}` },
      "no authorization": {},
    };
    for (const [what, payload] of Object.entries(payloads)) {
      const raw = await RawSocket.open(realtimeUrl(svc.baseUrl, tenantId), upgradeToken);
      raw.send({ type: "connection_init", payload });
      const closed = await raw.closedWithin(5_000);
      expect(closed.code, `${what}: ${closed.reason}`).toBe(4401);
      expect(
        raw.frames.items.map((f) => f.type),
        what,
      ).not.toContain("connection_ack");
    }
    const bare = await RawSocket.open(realtimeUrl(svc.baseUrl, tenantId), upgradeToken);
    bare.send({ type: "connection_init" });
    expect((await bare.closedWithin(5_000)).code, "connection_init without payload").toBe(4401);
  });

  it("closes with 4403 when the token is for another tenant, lacks coherence:read, or is an operator token", async ({
    expect,
  }) => {
    const tenantId = newTenant("rt");
    const upgradeToken = await mintToken(tenantId, READ);
    const tokens = {
      "another tenant": await mintToken(newTenant("other"), READ_WRITE),
      "coherence:write only": await mintToken(tenantId, "coherence:write"),
      "operator (*) with finops:read metrics:read": await mintToken("*", "finops:read metrics:read"),
    };
    for (const [what, token] of Object.entries(tokens)) {
      const raw = await RawSocket.open(realtimeUrl(svc.baseUrl, tenantId), upgradeToken);
      raw.send({ type: "connection_init", payload: { authorization: `Bearer ${token}` } });
      const closed = await raw.closedWithin(5_000);
      expect(closed.code, `${what}: ${closed.reason}`).toBe(4403);
      expect(
        raw.frames.items.map((f) => f.type),
        what,
      ).not.toContain("connection_ack");
    }
  });

  it("acknowledges connection_init with a read token and answers ping with pong before and after the ack", async ({
    expect,
  }) => {
    const { raw, token } = await fresh();
    raw.send({ type: "ping" });
    await raw.next((f) => f.type === "pong", 5_000, "pong before connection_init");
    await raw.init(token);
    raw.send({ type: "ping", payload: { probe: 1 } });
    await raw.frames.until((fs) => fs.filter((f) => f.type === "pong").length >= 2, 5_000, "pong after the ack");
    const types = raw.frames.items.map((f) => f.type);
    expect(types).toEqual(["pong", "connection_ack", "pong"]);
    raw.close();
  });

  it("closes with 4429 on a second connection_init", async ({ expect }) => {
    const { raw, token } = await ready();
    raw.send({ type: "connection_init", payload: { authorization: `Bearer ${token}` } });
    const closed = await raw.closedWithin(5_000);
    expect(closed.code, closed.reason).toBe(4429);
  });

  it("closes with 4401 on subscribe before connection_ack", async ({ expect }) => {
    const { raw, tenantId } = await fresh();
    raw.subscribe("s1", byId("pq_coherence_events_v1", { tenantId }));
    const closed = await raw.closedWithin(5_000);
    expect(closed.code, closed.reason).toBe(4401);
  });

  it("closes with 4409 when a subscription id is already in use", async ({ expect }) => {
    const { raw, tenantId } = await ready();
    raw.subscribe("dup", byId("pq_tenant_coherence_updates_v1", { tenantId }));
    await raw.next(isNext("dup"), 5_000, "the first subscription's score");
    raw.subscribe("dup", byId("pq_tenant_coherence_updates_v1", { tenantId }));
    const closed = await raw.closedWithin(5_000);
    expect(closed.code, closed.reason).toBe(4409);
  });

  it("closes with 4400 on invalid JSON, an unknown message type, and a subscription id over 64 characters", async ({
    expect,
  }) => {
    const bad: Record<string, (tenantId: string) => unknown> = {
      "invalid JSON": () => "{not json",
      "unknown message type": () => ({ type: "subscribe-all" }),
      "subscription id of 65 characters": (tenantId) => ({
        type: "subscribe",
        id: "x".repeat(65),
        payload: byId("pq_coherence_events_v1", { tenantId }),
      }),
    };
    for (const [what, frame] of Object.entries(bad)) {
      const { raw, tenantId } = await ready();
      raw.send(frame(tenantId));
      const closed = await raw.closedWithin(5_000);
      expect(closed.code, `${what}: ${closed.reason}`).toBe(4400);
    }
    // 64 characters is still a valid id.
    const { raw, tenantId } = await ready();
    const id = "y".repeat(64);
    raw.subscribe(id, byId("pq_tenant_coherence_updates_v1", { tenantId }));
    await raw.next(isNext(id), 5_000, "the score for a 64-character id");
    raw.close();
  });
});

describe.concurrent("per-subscription errors leave the connection open (§6)", () => {
  it("answers a subscribe for another tenant's id with an error FORBIDDEN for that id only", async ({ expect }) => {
    const { raw, tenantId, token } = await ready(READ_WRITE);
    const other = newTenant("other");
    raw.subscribe("mine", byId("pq_coherence_events_v1", { tenantId }));
    raw.subscribe("theirs", byId("pq_coherence_events_v1", { tenantId: other }));
    raw.subscribe("their-score", byId("pq_tenant_coherence_updates_v1", { tenantId: other }));
    for (const id of ["theirs", "their-score"]) {
      const err = await raw.next(isError(id), 5_000, `error for ${id}`);
      expect(codeOf(err), JSON.stringify(err)).toBe("FORBIDDEN");
    }
    await stillOpen(raw);
    // The refused id is free again, and the allowed subscription keeps streaming the path's tenant.
    raw.subscribe("theirs", byId("pq_tenant_coherence_updates_v1", { tenantId }));
    await raw.next(isNext("theirs"), 5_000, "score on the reused id");
    const s = signal(tenantId);
    await ingestAccepted(svc.baseUrl, token, [s]);
    const event = await raw.next(isNext("mine"), 5_000, "event on the allowed subscription");
    expect(event.payload).toMatchObject({ data: { coherenceEvents: { id: s.signalId } } });
    expect(raw.frames.items.filter((f) => f.type === "error").map((f) => f.id)).toEqual(["theirs", "their-score"]);
    expect(raw.frames.ended).toBeNull();
    raw.close();
  });

  it("answers the 21st subscription on a connection with an error, and frees a slot on complete", async ({
    expect,
  }) => {
    const { raw, tenantId } = await ready();
    const ids = Array.from({ length: 20 }, (_, i) => `s${i + 1}`);
    for (const id of ids) raw.subscribe(id, byId("pq_tenant_coherence_updates_v1", { tenantId }));
    await raw.frames.until(
      (fs) => ids.every((id) => fs.some(isNext(id))),
      10_000,
      "the first score on each of 20 subscriptions",
    );
    raw.subscribe("s21", byId("pq_tenant_coherence_updates_v1", { tenantId }));
    const err = await raw.next(isError("s21"), 5_000, "error for the 21st subscription");
    expect(codeOf(err), JSON.stringify(err)).toMatch(/^[A-Z][A-Z0-9_]*$/);
    expect(raw.frames.items.filter((f) => f.type === "error").map((f) => f.id)).toEqual(["s21"]);
    await stillOpen(raw);

    raw.send({ type: "complete", id: "s1" });
    raw.subscribe("s22", byId("pq_tenant_coherence_updates_v1", { tenantId }));
    await raw.next((f) => f.id === "s22", 5_000, "an answer for s22");
    expect(raw.frames.items.find((f) => f.id === "s22")?.type).toBe("next");
    raw.close();
  });

  it("answers a malformed after cursor with an error BAD_CURSOR", async ({ expect }) => {
    const { raw, tenantId } = await ready();
    raw.subscribe("c1", byId("pq_coherence_events_v1", { tenantId, after: "nope" }));
    const err = await raw.next(isError("c1"), 5_000, "error for the malformed cursor");
    expect(codeOf(err), JSON.stringify(err)).toBe("BAD_CURSOR");
    await stillOpen(raw);
    raw.close();
  });

  it("answers an unknown persisted id and an unregistered query text with their §5 codes", async ({ expect }) => {
    const { raw, tenantId } = await ready();
    raw.subscribe("u1", { query: "", id: "pq_no_such_operation_v1", variables: { tenantId } });
    raw.subscribe("u2", {
      query: "subscription($tenantId:ID!){ coherenceEvents(tenantId:$tenantId){ id } }",
      variables: { tenantId },
    });
    expect(codeOf(await raw.next(isError("u1"), 5_000, "error for the unknown id"))).toBe("PERSISTED_QUERY_NOT_FOUND");
    expect(codeOf(await raw.next(isError("u2"), 5_000, "error for ad-hoc text"))).toBe("PERSISTED_QUERY_ONLY");
    await stillOpen(raw);
    raw.close();
  });
});

describe("plain HTTP on the realtime route", () => {
  it("answers a GET without an upgrade with 426 and a JSON error (with a credential; without one, 401)", async () => {
    const tenantId = newTenant("rt");
    const url = realtimeUrl(svc.baseUrl, tenantId).replace(/^ws/, "http");
    expectRestError(await send(url, { headers: { authorization: `Bearer ${await mintToken(tenantId, READ)}` } }), 426);
    expectRestError(await send(url), 401, "UNAUTHENTICATED");
  });

  it("refuses an upgrade without a valid credential at the edge: 401, or 403 for another tenant's token", async ({
    expect,
  }) => {
    const tenantId = newTenant("rt");
    const url = realtimeUrl(svc.baseUrl, tenantId);
    for (const [what, bearer, status] of [
      ["no credential", undefined, 401],
      ["not a JWT", "not-a-jwt", 401],
      ["expired", await mintToken(tenantId, READ, ["--ttl", "-60"]), 401],
      ["another tenant", await mintToken(newTenant("other"), READ), 403],
      ["coherence:write only", await mintToken(tenantId, "coherence:write"), 403],
    ] as const) {
      const refused = await refusedUpgrade(url, bearer);
      expect(refused.status, what).toBe(status);
      expect(refused.contentType, what).toMatch(/json/i);
    }
    const garbage = await refusedUpgrade(`${url}?ticket=rt1.bm9wZQ.1.x.y`);
    expect(garbage.status).toBe(401);
  });

  it("answers 503 FEATURE_DISABLED on the route, with or without an upgrade, when FEATURE_COHERENCE=false", async ({
    expect,
  }) => {
    const tenantId = newTenant("rt");
    const url = realtimeUrl(off.baseUrl, tenantId);
    expectRestError(await send(url.replace(/^ws/, "http")), 503, "FEATURE_DISABLED");
    const refused = await refusedUpgrade(url);
    expect(refused.status).toBe(503);
    expect(refused.contentType).toMatch(/json/i);
    expect(refused.body).toMatchObject({ error: { code: "FEATURE_DISABLED" } });
  });
});
