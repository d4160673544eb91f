import { evictDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { token, upgrade } from "./helpers";

interface Socket {
  ws: WebSocket;
  next: (predicate?: (msg: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>>;
}

/** Opens a graphql-ws connection to the tenant's route through the Worker and completes the handshake. */
async function connect(tenantId: string, bearer: string): Promise<Socket> {
  const res = await upgrade(tenantId, { bearer });
  expect(res.status).toBe(101);
  const ws = res.webSocket as WebSocket;
  ws.accept();
  const inbox: Record<string, unknown>[] = [];
  const waiters: Array<() => void> = [];
  ws.addEventListener("message", (e) => {
    const msg = JSON.parse(String(e.data)) as Record<string, unknown>;
    // Answer flow-control pings like the stock client does.
    if (msg.type === "ping" && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: "pong", payload: msg.payload }));
    }
    inbox.push(msg);
    for (const w of waiters.splice(0)) w();
  });
  const next = async (predicate: (msg: Record<string, unknown>) => boolean = () => true) => {
    for (;;) {
      const i = inbox.findIndex(predicate);
      if (i >= 0) return inbox.splice(i, 1)[0] as Record<string, unknown>;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${bearer}` } }));
  expect(await next((m) => m.type !== "ping")).toEqual({ type: "connection_ack" });
  return { ws, next };
}

async function publish(bearer: string, signals: unknown[]) {
  const res = await exports.default.fetch(
    new Request("https://coherence.test/v1/coherence/signals", {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify({ signals }),
    }),
  );
  expect(res.status).toBe(202);
}

const isNext = (m: Record<string, unknown>) => m.type === "next";

describe("realtime inside workerd", () => {
  it("delivers published signals to a subscriber, and keeps delivering after the object is evicted", async () => {
    const tenantId = "rt-evict";
    const bearer = await token({ tenant: tenantId, scope: "coherence:read coherence:write" });
    const sock = await connect(tenantId, bearer);
    sock.ws.send(
      JSON.stringify({
        type: "subscribe",
        id: "ev",
        payload: { query: "", id: "pq_coherence_events_v1", variables: { tenantId } },
      }),
    );
    const ts = new Date(Date.now() - 1000).toISOString();
    await publish(bearer, [{ tenantId, type: "t", source: "s", value: 0.25, signalId: "one", ts }]);
    const first = await sock.next(isNext);
    expect(first).toMatchObject({ id: "ev", payload: { data: { coherenceEvents: { id: "one", value: 0.25 } } } });

    // Evict the object: the socket hibernates; its subscription lives in the attachment.
    await evictDurableObject(env.TENANT.get(env.TENANT.idFromName(tenantId)));
    await publish(bearer, [{ tenantId, type: "t", source: "s", value: 0.75, signalId: "two", ts }]);
    const second = await sock.next(isNext);
    expect(second).toMatchObject({ id: "ev", payload: { data: { coherenceEvents: { id: "two", value: 0.75 } } } });
    sock.ws.close(1000, "done");
  });

  it("sends the score on subscribe and again when it changes", async () => {
    const tenantId = "rt-score";
    const bearer = await token({ tenant: tenantId, scope: "coherence:read coherence:write" });
    const sock = await connect(tenantId, bearer);
    sock.ws.send(
      JSON.stringify({
        type: "subscribe",
        id: "sc",
        payload: { query: "", id: "pq_tenant_coherence_updates_v1", variables: { tenantId } },
      }),
    );
    expect(await sock.next(isNext)).toMatchObject({
      payload: { data: { tenantCoherenceUpdates: { tenantId, status: "UNKNOWN", signalCount: 0 } } },
    });
    await publish(bearer, [{ tenantId, type: "t", source: "s", value: 0.9 }]);
    expect(await sock.next(isNext)).toMatchObject({
      payload: { data: { tenantCoherenceUpdates: { score: 0.9, status: "HEALTHY", signalCount: 1 } } },
    });
    sock.ws.close(1000, "done");
  });
});
