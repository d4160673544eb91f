// Contract §6 flow control against `npm start`: a slow or dead client (a raw socket that never answers the
// server's pings, or one that stops reading) is closed with 1013 once more than 1,000 events behind, never
// delays a healthy stock-client subscriber on the same tenant, and can resume with `after`.
import type { Client } from "graphql-ws";
import { afterEach, describe, expect, it } from "vitest";
import { serviceForFile } from "../support/vitest-hooks";
import { signal, tenantWithToken } from "./helpers";
import {
  byId,
  duplicateIds,
  type EventView,
  idsOf,
  ingestAccepted,
  liveSubscriber,
  stockClient,
  subscribeEvents,
} from "./ws-client";
import { RawSocket, realtimeUrl } from "./ws-raw";

const svc = serviceForFile();

const clients = new Set<Client>();
const raws = new Set<RawSocket>();
afterEach(async () => {
  for (const r of raws) r.close();
  raws.clear();
  await Promise.all([...clients].map((c) => c.dispose()));
  clients.clear();
});

/**
 * A raw subscriber to `coherenceEvents` (id "ev") that never sends a `pong`. Its `tenantCoherenceUpdates`
 * subscription ("sc") answers at once, which shows the events subscription before it is registered.
 */
async function deadSubscriber(tenantId: string, token: string): Promise<RawSocket> {
  const raw = await RawSocket.open(realtimeUrl(svc.baseUrl, tenantId), token);
  raws.add(raw);
  await raw.init(token);
  raw.subscribe("ev", byId("pq_coherence_events_v1", { tenantId }));
  raw.subscribe("sc", byId("pq_tenant_coherence_updates_v1", { tenantId }));
  await raw.next((f) => f.id === "sc" && f.type === "next", 10_000, "the first score (subscriber ready)");
  return raw;
}

function batch(tenantId: string, n: number, tag: string): Array<Record<string, unknown>> {
  return Array.from({ length: n }, (_, i) => signal(tenantId, { signalId: `${tag}-${i}`, value: (i % 5) / 4 }));
}

/** Resumes on a fresh stock client after `cursor`; resolves once `expected` ids have all arrived. */
async function resumeAfter(tenantId: string, token: string, cursor: string, expected: number) {
  const client = stockClient(svc.baseUrl, tenantId, token);
  clients.add(client);
  const sub = subscribeEvents(client, tenantId, cursor);
  await sub.values.until((evs) => evs.length >= expected, 20_000, `${expected} events after ${cursor}`);
  return sub;
}

describe("slow and dead subscribers (§6)", () => {
  it("closes a subscriber that never answers pings, and one that stops reading, with 1013 once more than 1000 events behind; a healthy one gets everything; both resume with after", async () => {
    const { tenantId, token } = await tenantWithToken();
    const healthy = await liveSubscriber(svc.baseUrl, tenantId, token);
    clients.add(healthy.client);
    const dead = await deadSubscriber(tenantId, token);
    const stalled = await deadSubscriber(tenantId, token);
    stalled.ws.pause(); // stops reading: nothing more is read, no pong could ever be sent

    // 1400 events in batches of 200, each published once the healthy subscriber has the previous one, so
    // every batch reaches the dead client in a window of its own (a steady trickle, not one burst).
    const sent: Array<Record<string, unknown>> = [];
    for (let b = 0; b < 7; b++) {
      const part = batch(tenantId, 200, `slow${b}`);
      await ingestAccepted(svc.baseUrl, token, part);
      sent.push(...part);
      await healthy.events.values.until((evs) => evs.length >= sent.length, 10_000, `batch ${b} on the healthy client`);
      await dead.frames.until(
        () => dead.dataOf("ev", "coherenceEvents").length >= sent.length || dead.frames.ended !== null,
        10_000,
        `batch ${b} on the dead client, or its close`,
      );
    }
    const want = idsOf(sent);
    expect(healthy.events.values.items.map((e) => e.id)).toEqual(want);
    expect(healthy.events.values.ended, "the healthy subscriber was not closed").toBeNull();

    const deadClose = await dead.closedWithin(10_000);
    expect(deadClose.code, deadClose.reason).toBe(1013);
    const deadGot = dead.dataOf<EventView>("ev", "coherenceEvents");
    expect(deadGot.map((e) => e.id)).toEqual(want.slice(0, deadGot.length));
    expect(deadGot.length).toBeGreaterThan(1000);
    expect(deadGot.length).toBeLessThan(want.length);

    stalled.ws.resume();
    const stalledClose = await stalled.closedWithin(10_000);
    expect(stalledClose.code, stalledClose.reason).toBe(1013);
    const stalledGot = stalled.dataOf<EventView>("ev", "coherenceEvents");
    expect(stalledGot.map((e) => e.id)).toEqual(want.slice(0, stalledGot.length));

    // Both resume from their last cursor and get exactly the rest, then live events.
    const [deadRest, stalledRest] = await Promise.all([
      resumeAfter(tenantId, token, deadGot.at(-1)?.cursor as string, want.length - deadGot.length),
      resumeAfter(tenantId, token, stalledGot.at(-1)?.cursor as string, want.length - stalledGot.length),
    ]);
    const live = batch(tenantId, 2, "after");
    await ingestAccepted(svc.baseUrl, token, live);
    for (const [name, rest, got] of [
      ["dead", deadRest, deadGot.length],
      ["stalled", stalledRest, stalledGot.length],
    ] as const) {
      await rest.values.until((evs) => evs.length >= want.length - got + 2, 10_000, `live events on resumed ${name}`);
      expect(
        rest.values.items.map((e) => e.id),
        name,
      ).toEqual([...want.slice(got), ...idsOf(live)]);
    }
  });

  it("closes a dead subscriber with 1013 when a concurrent burst puts it more than 1000 events behind at once", async () => {
    const { tenantId, token } = await tenantWithToken();
    const healthy = await liveSubscriber(svc.baseUrl, tenantId, token);
    clients.add(healthy.client);
    const dead = await deadSubscriber(tenantId, token);

    // 2000 events in 10 concurrent requests of 200, faster than the fan-out windows: however much of it the
    // dead client was sent, it ends more than 1000 events behind, counted by delivery or by acknowledgement.
    const parts = Array.from({ length: 10 }, (_, b) => batch(tenantId, 200, `burst${b}`));
    await Promise.all(parts.map((part) => ingestAccepted(svc.baseUrl, token, part)));
    await healthy.events.values.until((evs) => evs.length >= 2000, 20_000, "the burst on the healthy client");
    const got = healthy.events.values.items.map((e) => e.id);
    expect(duplicateIds(got)).toEqual([]);
    expect(new Set(got)).toEqual(new Set(parts.flatMap(idsOf)));

    const closed = await dead.closedWithin(10_000).catch((err: Error) => {
      const received = dead.dataOf("ev", "coherenceEvents").length;
      throw new Error(`${err.message}; the dead client had received ${received} of 2000 events (never acknowledged)`);
    });
    expect(closed.code, closed.reason).toBe(1013);
  });
});
