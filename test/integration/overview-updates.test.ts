// The operators' live overview (docs/api.md §4.12.1) in workerd: the operators' path `/v1/tenants/*/graphql`
// upgrades to the directory's object for operator tokens only; one subscription gets a snapshot of every tenant,
// then only the rows a report changed; a tenant's socket cannot open it.
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { TenantSummary } from "../../src/domain/overview";
import { token, upgrade } from "./helpers";

const OP = "pq_tenants_overview_updates_v1";

function directory() {
  return env.TENANT_DIRECTORY.get(env.TENANT_DIRECTORY.idFromName("directory"));
}

function summary(tenantId: string, score: number, updatedMs: number): TenantSummary {
  const status = score >= 0.75 ? "HEALTHY" : score >= 0.5 ? "WARN" : "CRITICAL";
  return { tenantId, score, status, signalCount: 3, lastSignalMs: updatedMs - 1000, updatedMs };
}

interface Frame {
  type: string;
  id?: string;
  payload?: unknown;
}

/** A socket's frames as they arrive, and a way to wait for the next one that matches. */
function frames(ws: WebSocket) {
  const seen: Frame[] = [];
  const closed: { code: number | null } = { code: null };
  ws.addEventListener("message", (e) => seen.push(JSON.parse(String(e.data)) as Frame));
  ws.addEventListener("close", (e) => {
    closed.code = e.code;
  });
  ws.accept();
  return {
    seen,
    closed,
    send: (f: unknown) => ws.send(JSON.stringify(f)),
    async next(match: (f: Frame) => boolean, from = 0): Promise<Frame> {
      let found: Frame | undefined;
      await expect
        .poll(
          () => {
            found = seen.slice(from).find(match);
            return found !== undefined || closed.code !== null;
          },
          { timeout: 5000, interval: 20 },
        )
        .toBe(true);
      if (!found) throw new Error(`closed with ${closed.code} before a matching frame; saw ${JSON.stringify(seen)}`);
      return found;
    },
  };
}

type Rows = Array<{ tenantId: string; score: number; status: string }>;
const update = (f: Frame) =>
  (f.payload as { data: { tenantsOverviewUpdates: { kind: string; complete: boolean; tenants: Rows } } }).data
    .tenantsOverviewUpdates;

describe("the operators' live overview", () => {
  it("sends an operator a snapshot, then only the rows a report changed", async () => {
    const now = Date.now();
    const dir = directory();
    await dir.report(summary("live-a", 0.9, now));
    await dir.report(summary("live-b", 0.4, now));
    const operator = await token({ tenant: "*", scope: "coherence:read" });
    const res = await upgrade("*", { bearer: operator });
    expect(res.status).toBe(101);
    const ws = frames(res.webSocket as WebSocket);
    ws.send({ type: "connection_init", payload: { authorization: `Bearer ${operator}` } });
    await ws.next((f) => f.type === "connection_ack");
    ws.send({ id: "o", type: "subscribe", payload: { query: "", id: OP } });
    const snap = update(await ws.next((f) => f.id === "o" && f.type === "next"));
    expect(snap.kind).toBe("SNAPSHOT");
    expect(snap.complete).toBe(true);
    const ids = snap.tenants.map((t) => t.tenantId);
    expect(ids).toEqual(expect.arrayContaining(["live-a", "live-b"]));
    // Worst first within the message.
    expect(ids.indexOf("live-b")).toBeLessThan(ids.indexOf("live-a"));

    // A report that changes nothing shown sends nothing; one that changes a row sends that row only.
    const before = ws.seen.length;
    await dir.report({ ...summary("live-a", 0.9, now), outboxBacklog: 5 });
    await dir.report(summary("live-a", 0.2, now + 1));
    const change = update(await ws.next((f) => f.id === "o" && f.type === "next", before));
    expect(change.kind).toBe("CHANGES");
    expect(change.tenants).toEqual([expect.objectContaining({ tenantId: "live-a", score: 0.2, status: "CRITICAL" })]);
    // Each flush asks for an acknowledgement (flow control); the client echoes it.
    const ping = await ws.next((f) => f.type === "ping", before);
    expect(ping.payload).toMatchObject({ n: expect.any(Number) });
    ws.send({ type: "pong", payload: ping.payload });
    expect(ws.seen.slice(before).filter((f) => f.type === "next")).toHaveLength(1);
    ws.send({ id: "o", type: "complete" });
  });

  it("refuses a tenant's token on the operators' path (upgrade 403, ticket 403) and a forged one (401)", async () => {
    const tenant = await token({ tenant: "acme", scope: "coherence:read coherence:write" });
    expect((await upgrade("*", { bearer: tenant })).status).toBe(403);
    const ticket = await exports.default.fetch(
      new Request("https://coherence.test/v1/tenants/*/realtime-tickets", {
        method: "POST",
        headers: { authorization: `Bearer ${tenant}` },
      }),
    );
    expect(ticket.status).toBe(403);
    const operator = await token({ tenant: "*", scope: "coherence:read" });
    expect((await upgrade("*", { bearer: `${operator}x` })).status).toBe(401);
    // An operator without coherence:read is refused too.
    expect((await upgrade("*", { bearer: await token({ tenant: "*", scope: "metrics:read" }) })).status).toBe(403);
  });

  it("closes 4403 when connection_init carries a tenant's token, and refuses one tenant's data on the path", async () => {
    const operator = await token({ tenant: "*", scope: "coherence:read" });
    const res = await upgrade("*", { bearer: operator });
    const ws = frames(res.webSocket as WebSocket);
    ws.send({
      type: "connection_init",
      payload: { authorization: `Bearer ${await token({ tenant: "acme", scope: "coherence:read" })}` },
    });
    await expect.poll(() => ws.closed.code, { timeout: 5000 }).toBe(4403);

    const again = frames((await upgrade("*", { bearer: operator })).webSocket as WebSocket);
    again.send({ type: "connection_init", payload: { authorization: `Bearer ${operator}` } });
    await again.next((f) => f.type === "connection_ack");
    again.send({
      id: "t",
      type: "subscribe",
      payload: { query: "", id: "pq_tenant_coherence_updates_v1", variables: { tenantId: "acme" } },
    });
    const err = await again.next((f) => f.id === "t");
    expect(err.type).toBe("error");
    expect(JSON.stringify(err.payload)).toContain("FORBIDDEN");
  });

  it("an operator ticket opens the path once; a tenant's socket may not subscribe to the overview", async () => {
    const operator = await token({ tenant: "*", scope: "coherence:read" });
    const issued = await exports.default.fetch(
      new Request("https://coherence.test/v1/tenants/*/realtime-tickets", {
        method: "POST",
        headers: { authorization: `Bearer ${operator}` },
      }),
    );
    expect(issued.status).toBe(201);
    const { ticket } = (await issued.json()) as { ticket: string };
    const first = await upgrade("*", { ticket });
    expect(first.status).toBe(101);
    (first.webSocket as WebSocket).accept();
    (first.webSocket as WebSocket).close(1000, "done");
    expect((await upgrade("*", { ticket })).status).toBe(401);
    // The operator's ticket names `*`: it opens no tenant's path.
    expect((await upgrade("acme", { ticket })).status).toBe(403);

    const tenant = await token({ tenant: "ov-tenant", scope: "coherence:read" });
    const ws = frames((await upgrade("ov-tenant", { bearer: tenant })).webSocket as WebSocket);
    ws.send({ type: "connection_init", payload: { authorization: `Bearer ${tenant}` } });
    await ws.next((f) => f.type === "connection_ack");
    ws.send({ id: "o", type: "subscribe", payload: { query: "", id: OP } });
    const err = await ws.next((f) => f.id === "o");
    expect(err.type).toBe("error");
    expect(JSON.stringify(err.payload)).toContain("FORBIDDEN");
    expect(ws.seen.filter((f) => f.type === "next")).toEqual([]);
  });
});
