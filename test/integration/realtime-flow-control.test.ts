import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { SocketRecord } from "../../durable-objects/socket-table";
import type { TenantObject } from "../../durable-objects/tenant";
import { ACK_GRACE_MS, MAX_UNACKED_EVENTS, PAGE_EVENTS } from "../../src/realtime/coalesce";
import { decodeCursor } from "../../src/realtime/cursor";
import { Close } from "../../src/realtime/protocol";
import { command, signal, token, upgrade } from "./helpers";

// Flow control of the tenant object's fan-out inside workerd, with a client that answers pings only when told to.
// The object's clock is injected and its sub-second timers (coalesced flushes, the slow-client re-check) are run
// by the test at that clock instead of waited for; a timer the runtime fires first does the same work.

type Frame = Record<string, unknown>;

interface Client {
  ws: WebSocket;
  /** The next frame matching `predicate`, waiting for it to arrive. */
  next(predicate?: (frame: Frame) => boolean): Promise<Frame>;
  /** The socket's close event. */
  closed: Promise<CloseEvent>;
}

/** Opens a graphql-ws connection through the Worker and completes `connection_init`; pings stay unanswered. */
async function connect(tenantId: string): Promise<Client> {
  const bearer = await token({ tenant: tenantId, scope: "coherence:read coherence:write" });
  const res = await upgrade(tenantId, { bearer });
  expect(res.status).toBe(101);
  const ws = res.webSocket as WebSocket;
  ws.accept();
  const inbox: Frame[] = [];
  const waiters: Array<() => void> = [];
  ws.addEventListener("message", (e) => {
    inbox.push(JSON.parse(String(e.data)) as Frame);
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
  const next = async (predicate: (frame: Frame) => boolean = () => true) => {
    for (;;) {
      const i = inbox.findIndex(predicate);
      if (i >= 0) return inbox.splice(i, 1)[0] as Frame;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${bearer}` } }));
  expect(await next()).toEqual({ type: "connection_ack" });
  ws.send(
    JSON.stringify({
      type: "subscribe",
      id: "ev",
      payload: { query: "", id: "pq_coherence_events_v1", variables: { tenantId } },
    }),
  );
  return { ws, next, closed };
}

/** The sequence numbers of the next `n` events, in the order they arrived. */
async function events(client: Client, n: number): Promise<number[]> {
  const seqs: number[] = [];
  while (seqs.length < n) {
    const frame = await client.next((f) => f.type === "next");
    const cursor = (frame.payload as { data: { coherenceEvents: { cursor: string } } }).data.coherenceEvents.cursor;
    seqs.push(decodeCursor(cursor) ?? -1);
  }
  return seqs;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A tenant object on an injected clock that the test moves. */
async function clockedObject(tenantId: string) {
  const stub = env.TENANT.get(env.TENANT.idFromName(tenantId));
  let now = Date.now();
  const set = (ms: number) =>
    runInDurableObject(stub, (obj: TenantObject) => {
      obj.clock = () => ms;
    });
  await set(now);
  let published = 0;
  return {
    stub,
    /** Accepts `n` new signals in one request. */
    publish: async (n: number) => {
      const batch = Array.from({ length: n }, (_, i) => signal(tenantId, now - 60_000 + published + i, 0.5));
      published += n;
      await stub.ingest(command(tenantId, batch, now));
    },
    /** Moves the clock on by `ms` and runs the timers due by then (a coalesced flush, a re-check). */
    tick: (ms: number) =>
      runInDurableObject(stub, async (obj: TenantObject) => {
        now += ms;
        obj.clock = () => now;
        await obj.timers.runDue(now);
      }),
    /** The one socket's flow-control state and the instant of the pending flush or re-check. */
    flow: () =>
      runInDurableObject(stub, (obj: TenantObject, state) => ({
        ...((state.getWebSockets()[0]?.deserializeAttachment() as SocketRecord | null)?.f ?? null),
        flushAt: obj.timers.dueAt("fanout"),
      })),
  };
}

describe("realtime flow control in workerd", () => {
  it("sends a backlog larger than a page one page per pong, each event once and in order", async () => {
    const tenant = await clockedObject("flow-pages");
    const client = await connect("flow-pages");
    const total = 2 * PAGE_EVENTS + 200;
    await tenant.publish(total);
    await tenant.tick(100);
    expect(await events(client, PAGE_EVENTS)).toEqual(range(1, PAGE_EVENTS));
    expect(await client.next((f) => f.type === "ping")).toEqual({ type: "ping", payload: { n: PAGE_EVENTS } });

    // Unanswered, the next flushes send nothing more.
    await tenant.tick(100);
    expect(await tenant.flow()).toMatchObject({ sent: PAGE_EVENTS, acked: 0 });

    client.ws.send(JSON.stringify({ type: "pong", payload: { n: PAGE_EVENTS } }));
    expect(await events(client, PAGE_EVENTS)).toEqual(range(PAGE_EVENTS + 1, 2 * PAGE_EVENTS));
    expect(await client.next((f) => f.type === "ping")).toEqual({ type: "ping", payload: { n: 2 * PAGE_EVENTS } });
    client.ws.send(JSON.stringify({ type: "pong", payload: { n: 2 * PAGE_EVENTS } }));
    expect(await events(client, 200)).toEqual(range(2 * PAGE_EVENTS + 1, total));
    expect(await tenant.flow()).toMatchObject({ sent: total, acked: 2 * PAGE_EVENTS });
    client.ws.close(1000, "done");
  });

  it("closes a client that leaves pings unanswered once it owes more than the limit (1013)", async () => {
    const tenant = await clockedObject("flow-owed");
    const client = await connect("flow-owed");
    const burst = 400;
    let sent = 0;
    while (sent <= MAX_UNACKED_EVENTS) {
      await tenant.publish(burst);
      await tenant.tick(100);
      expect(await events(client, burst)).toEqual(range(sent + 1, sent + burst));
      sent += burst;
    }
    const closed = await client.closed;
    expect(closed.code).toBe(Close.TryAgainLater);
    expect(closed.reason).toMatch(/resubscribe with after/);
  });

  it("closes a stuck client once the grace runs out, with no new traffic (the re-check is a scheduled flush)", async () => {
    const tenant = await clockedObject("flow-stuck");
    const client = await connect("flow-stuck");
    await tenant.publish(400);
    await tenant.tick(100);
    await tenant.publish(400);
    await tenant.tick(100);
    expect(await events(client, 800)).toEqual(range(1, 800));
    // A burst over a page while 800 are unacknowledged: nothing goes out, and 1,400 are owed.
    await tenant.publish(600);
    await tenant.tick(100);
    const owing = await tenant.flow();
    expect(owing).toMatchObject({ sent: 800, acked: 0 });
    expect(owing.since).not.toBeNull();
    expect(owing.flushAt).toBe((owing.since ?? 0) + ACK_GRACE_MS);

    await tenant.tick((owing.flushAt ?? 0) - (owing.since ?? 0));
    const closed = await client.closed;
    expect(closed.code).toBe(Close.TryAgainLater);
  });
});
