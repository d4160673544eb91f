// Limits and credential lifetime on the realtime path (issue 5, docs/threat-model.md): sockets per tenant,
// frame size over a real socket, subscriptions per socket, and sockets closed when their token expires.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MAX_FRAME_CHARS, MAX_SUBSCRIPTIONS } from "../../src/realtime/protocol";
import { mintToken } from "../support/harness";
import { serviceForFile } from "../support/vitest-hooks";
import { byId } from "./ws-client";
import { RawSocket, realtimeUrl, refusedUpgrade } from "./ws-raw";

const MAX_SOCKETS = 3;
const svc = serviceForFile({ env: { WS_MAX_SOCKETS_PER_TENANT: String(MAX_SOCKETS) } });

const reader = (tenant: string, extra: string[] = []) => mintToken(tenant, "coherence:read", extra);

describe("WebSocket limits (docs/api.md §4.5)", () => {
  it("refuses the upgrade past WS_MAX_SOCKETS_PER_TENANT with 429 TOO_MANY_CONNECTIONS; other tenants and freed slots are served", async () => {
    const tenant = `lim-${randomUUID()}`;
    const url = realtimeUrl(svc.baseUrl, tenant);
    const token = await reader(tenant);
    const open: RawSocket[] = [];
    for (let i = 0; i < MAX_SOCKETS; i++) open.push(await RawSocket.open(url, token));
    const refused = await refusedUpgrade(url, token);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: { code: "TOO_MANY_CONNECTIONS" } });

    const other = `lim-other-${randomUUID()}`;
    const neighbour = await RawSocket.open(realtimeUrl(svc.baseUrl, other), await reader(other));
    neighbour.close();

    open[0]?.close();
    let again: RawSocket | null = null;
    for (let attempt = 0; attempt < 50 && !again; attempt++) {
      again = await RawSocket.open(url, token).catch(() => null);
      if (!again) await new Promise((r) => setTimeout(r, 100));
    }
    expect(again).not.toBeNull();
    again?.close();
    for (const s of open) s.close();
  });

  it(`closes a socket with 1009 when a frame is longer than ${MAX_FRAME_CHARS} characters`, async () => {
    const tenant = `lim-${randomUUID()}`;
    const token = await reader(tenant);
    const socket = await RawSocket.open(realtimeUrl(svc.baseUrl, tenant), token);
    await socket.init(token);
    socket.send(JSON.stringify({ type: "ping", payload: { pad: "x".repeat(MAX_FRAME_CHARS) } }));
    expect((await socket.closedWithin(10_000)).code).toBe(1009);
  });

  it(`answers subscription ${MAX_SUBSCRIPTIONS + 1} on one socket with an error message and keeps the others`, async () => {
    const tenant = `lim-${randomUUID()}`;
    const token = await reader(tenant);
    const socket = await RawSocket.open(realtimeUrl(svc.baseUrl, tenant), token);
    await socket.init(token);
    for (let i = 1; i <= MAX_SUBSCRIPTIONS + 1; i++) {
      socket.subscribe(`s${i}`, byId("pq_tenant_coherence_updates_v1", { tenantId: tenant }));
    }
    const err = await socket.next((f) => f.id === `s${MAX_SUBSCRIPTIONS + 1}`, 10_000, "the error for one too many");
    expect(err.type).toBe("error");
    await socket.next((f) => f.id === `s${MAX_SUBSCRIPTIONS}` && f.type === "next", 10_000, "the 20th's first score");
    socket.close();
  });
});

describe("credential lifetime on long-lived sockets", () => {
  it("closes a subscribed socket with 4401 once its token expires (exp + 5 s leeway), not before", async () => {
    const tenant = `exp-${randomUUID()}`;
    const ttlS = 4;
    const token = await reader(tenant, ["--ttl", String(ttlS)]);
    const exp = (JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as { exp: number }).exp;
    const socket = await RawSocket.open(realtimeUrl(svc.baseUrl, tenant), token);
    await socket.init(token);
    socket.subscribe("score", byId("pq_tenant_coherence_updates_v1", { tenantId: tenant }));
    await socket.next((f) => f.id === "score" && f.type === "next", 10_000, "the first score");
    const closed = await socket.closedWithin(30_000);
    const closedAtS = Date.now() / 1000;
    expect(closed.code).toBe(4401);
    expect(closedAtS).toBeGreaterThanOrEqual(exp + 5 - 1);
    expect(closedAtS).toBeLessThan(exp + 5 + 10);
  }, 45_000);

  it("keeps a socket whose token is still valid open past another socket's expiry", async () => {
    const tenant = `exp-${randomUUID()}`;
    const shortToken = await reader(tenant, ["--ttl", "2"]);
    const longToken = await reader(tenant);
    const shortLived = await RawSocket.open(realtimeUrl(svc.baseUrl, tenant), longToken);
    await shortLived.init(shortToken);
    const longLived = await RawSocket.open(realtimeUrl(svc.baseUrl, tenant), longToken);
    await longLived.init(longToken);
    expect((await shortLived.closedWithin(30_000)).code).toBe(4401);
    longLived.send({ type: "ping" });
    await longLived.next((f) => f.type === "pong", 5_000, "a pong on the long-lived socket");
    longLived.close();
  }, 45_000);
});
