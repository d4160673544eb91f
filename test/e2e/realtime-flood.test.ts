// Anonymous WebSocket upgrades cost a tenant nothing (docs/api.md §4.5): a flood of them, hundreds a second at one
// tenant's path, while its producer publishes and its workbench-style subscriber (a realtime ticket) listens. With
// a small RPS_MAX and few socket slots, every upgrade that reached the tenant's object would show: 429s for the
// producer, slots taken, rejected `subscribe` counts in its usage.
import { request } from "node:http";
import { describe, expect, it } from "vitest";
import { mintToken } from "../support/harness";
import { serviceForFile } from "../support/vitest-hooks";
import { ingest, newTenant, send, signal } from "./helpers";
import { RawSocket } from "./ws-raw";

const RPS_MAX = 40;
const SLOTS = 4;
const svc = serviceForFile({ env: { RPS_MAX: String(RPS_MAX), WS_MAX_SOCKETS_PER_TENANT: String(SLOTS) } });

/** One anonymous upgrade; resolves with the HTTP status (101 if it got through, the socket then kept open). */
function anonymousUpgrade(baseUrl: string, path: string, held: Array<{ destroy(): void }>): Promise<number> {
  const url = new URL(path, baseUrl);
  return new Promise((ok) => {
    const req = request(url, {
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64"),
        "Sec-WebSocket-Protocol": "graphql-transport-ws",
      },
    });
    req.on("upgrade", (_res, socket) => {
      held.push(socket); // an attacker holds what it gets
      ok(101);
    });
    req.on("response", (res) => {
      res.resume();
      ok(res.statusCode ?? 0);
    });
    req.on("error", () => ok(0));
    req.end();
  });
}

describe("anonymous upgrade flood (docs/api.md §4.5)", () => {
  it("costs the tenant nothing: its producer sees no 429, its slots stay free, its usage shows none of it", async () => {
    const tenant = newTenant("flooded");
    const token = await mintToken(tenant, "coherence:read coherence:write finops:read");
    const path = `/v1/tenants/${tenant}/graphql`;

    // The workbench's way in: a ticket, then connection_init with the token.
    const ticketRes = await send(`${svc.baseUrl}/v1/tenants/${tenant}/realtime-tickets`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(ticketRes.status).toBe(201);
    const { ticket } = ticketRes.body as { ticket: string };
    const watcher = await RawSocket.open(
      `${svc.baseUrl.replace(/^http/, "ws")}${path}?ticket=${encodeURIComponent(ticket)}`,
    );
    await watcher.init(token);
    watcher.subscribe("events", { query: "", id: "pq_coherence_events_v1", variables: { tenantId: tenant } });

    // The flood: FLOOD anonymous upgrades, 40 in flight (about 300 a second here), however long the machine takes
    // (a fixed count, not a fixed time: a busy machine must not turn the flood into a trickle the test accepts).
    const FLOOD = 1000;
    const held: Array<{ destroy(): void }> = [];
    const statuses: number[] = [];
    let flooding = true;
    const giveUp = Date.now() + 30_000;
    const flood = Promise.all(
      Array.from({ length: 40 }, async () => {
        while (statuses.length < FLOOD && Date.now() < giveUp) {
          statuses.push(await anonymousUpgrade(svc.baseUrl, path, held));
          await new Promise((r) => setTimeout(r, 100));
        }
      }),
    ).finally(() => {
      flooding = false;
    });
    // The producer: 10 requests a second, well under RPS_MAX, throughout.
    const produced: number[] = [];
    const producer = (async () => {
      while (flooding) {
        produced.push((await ingest(svc.baseUrl, signal(tenant), token)).status);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await Promise.all([flood, producer]);
    for (const s of held) s.destroy();

    expect(statuses.length).toBeGreaterThanOrEqual(FLOOD);
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(produced.filter((s) => s !== 202)).toEqual([]);
    // The subscriber saw every published signal.
    await watcher.next(
      (f) => f.id === "events" && watcher.dataOf("events", "coherenceEvents").length >= produced.length,
      10_000,
      "every event",
    );
    // Its slots are free: all but the watcher's can be taken by the tenant's own clients.
    const own: RawSocket[] = [];
    for (let i = 0; i < SLOTS - 1; i++) {
      own.push(await RawSocket.open(`${svc.baseUrl.replace(/^http/, "ws")}${path}`, token));
    }
    for (const s of own) s.close();
    watcher.close();

    // Usage: none of the flood.
    const day = new Date().toISOString().slice(0, 10);
    const usage = await send(
      `${svc.baseUrl}/v1/finops/usage?${new URLSearchParams({ tenantId: tenant, from: day, to: day })}`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(usage.status).toBe(200);
    const days = (usage.body as { days: Array<{ requests: Record<string, number>; rejected: number }> }).days;
    // The watcher's one subscribe; no rejected request of any kind (a charged upgrade would be a rejected subscribe).
    expect(days[0]?.requests.subscribe).toBe(1);
    expect(days[0]?.rejected).toBe(0);
  });
});
