// Contract §6 subscriptions through the stock graphql-ws client against `npm start`: coherenceEvents (order,
// cursors, no duplicates, resume with `after` across a paged replay), tenantCoherenceUpdates (equal to the
// HTTP read after each change), every §5 addressing form, and a 100-subscriber fan-out.
import type { Client } from "graphql-ws";
import { afterEach, describe, expect, it } from "vitest";
import { computeScore } from "../../src/domain/score";
import { serviceForFile } from "../support/vitest-hooks";
import { graphql, ingest, isoAt, readScore, signal, tenantWithToken } from "./helpers";
import {
  addressingForms,
  collect,
  duplicateIds,
  type EventView,
  idsOf,
  ingestAccepted,
  liveSubscriber,
  pongGate,
  type ScoreUpdate,
  stockClient,
  subscribeEvents,
  subscribeScores,
} from "./ws-client";

const svc = serviceForFile();

const clients = new Set<Client>();
/** Remembers a client so it is disposed after the test, whatever happens. */
function track<T extends { client: Client }>(x: T): T {
  clients.add(x.client);
  return x;
}
afterEach(async () => {
  await Promise.all([...clients].map((c) => c.dispose()));
  clients.clear();
});

/** Asserts that `ev` carries the fields of the signal `s` that was sent (ts compared as an instant). */
function expectEventOf(ev: EventView | undefined, s: Record<string, unknown>): void {
  expect(ev).toEqual({
    id: s.signalId,
    type: s.type,
    value: s.value,
    weight: s.weight,
    source: s.source,
    ts: expect.any(String),
    cursor: expect.any(String),
  });
  expect(Date.parse(ev?.ts ?? ""), `ts of ${String(s.signalId)}`).toBe(Date.parse(String(s.ts)));
}

/** Values of `n` signals for `tenantId` with varied value and weight. */
function batch(tenantId: string, n: number, tag = "b"): Array<Record<string, unknown>> {
  return Array.from({ length: n }, (_, i) =>
    signal(tenantId, {
      signalId: `${tag}-${i}-${Math.random().toString(36).slice(2, 8)}`,
      value: (i % 11) / 10,
      weight: 1 + (i % 3),
    }),
  );
}

describe("coherenceEvents (§6)", () => {
  it("streams every accepted signal in acceptance order with a cursor each, never a re-sent duplicate or another tenant's signal", async () => {
    const { tenantId, token } = await tenantWithToken();
    const other = await tenantWithToken();
    const sub = track(await liveSubscriber(svc.baseUrl, tenantId, token));

    const first = [
      signal(tenantId, { value: 0.2, weight: 2, type: "latency", source: "probe" }),
      signal(tenantId, { value: 0.9, weight: 0.5, type: "errors", source: "agent" }),
    ];
    // No signalId: the server derives one, and the event must carry that id.
    const derived = { tenantId, type: "saturation", source: "probe", value: 0.4, weight: 1, ts: isoAt(-30_000) };
    const r1 = await ingestAccepted(svc.baseUrl, token, [...first, derived]);
    const derivedId = (r1.body as { signals: Array<{ signalId: string }> }).signals[2]?.signalId;
    expect(typeof derivedId).toBe("string");
    await ingestAccepted(svc.baseUrl, other.token, [signal(other.tenantId)]);

    // The GraphQL mutation is another way in (§5): what it stores is streamed too.
    const viaMutation = signal(tenantId, { value: 0.65, weight: 3, type: "latency", source: "graphql" });
    const m = await graphql(svc.baseUrl, { id: "pq_publish_signal_v1", variables: { input: viaMutation } }, token);
    expect(m.body, m.text).toEqual({ data: { publishCoherenceSignal: true } });

    // A re-sent signal (same source, signalId and ts) is a duplicate: not accepted, so not streamed.
    const fresh = signal(tenantId, { value: 0.35, weight: 1 });
    const r2 = await ingest(svc.baseUrl, { signals: [first[0], fresh] }, token);
    expect(r2.body, r2.text).toMatchObject({ accepted: 1, duplicates: 1 });
    const r3 = await ingest(svc.baseUrl, { signals: [...first, derived] }, token);
    expect(r3.body, r3.text).toMatchObject({ accepted: 0, duplicates: 3 });
    const marker = signal(tenantId, { value: 1, weight: 1 });
    await ingestAccepted(svc.baseUrl, token, [marker]);

    await sub.events.values.until((evs) => evs.some((e) => e.id === marker.signalId), 10_000, "the marker event");
    const events = sub.events.values.items;
    const expected = [...idsOf(first), derivedId, viaMutation.signalId, fresh.signalId, marker.signalId];
    expect(events.map((e) => e.id)).toEqual(expected);
    expectEventOf(events[0], first[0] as Record<string, unknown>);
    expectEventOf(events[1], first[1] as Record<string, unknown>);
    expectEventOf(events[2], { ...derived, signalId: derivedId });
    expectEventOf(events[3], viaMutation);
    expectEventOf(events[4], fresh);
    expectEventOf(events[5], marker);
    const cursors = events.map((e) => e.cursor);
    expect(cursors.every((c) => c.length > 0)).toBe(true);
    expect(new Set(cursors).size).toBe(cursors.length);
  });

  it("resumes after a cursor with exactly the missed events, then live ones, across a paged replay of 1200 with concurrent ingest", async () => {
    const { tenantId, token } = await tenantWithToken();
    const first = track(await liveSubscriber(svc.baseUrl, tenantId, token));
    const early = batch(tenantId, 5, "early");
    await ingestAccepted(svc.baseUrl, token, early);
    await first.events.values.until((evs) => evs.length >= 5, 10_000, "the 5 early events");
    expect(first.events.values.items.map((e) => e.id)).toEqual(idsOf(early));
    const after = first.events.values.items[4]?.cursor as string;
    await first.client.dispose();

    // Accepted while no one listens: 1200 signals, in batches of 200.
    const missed: Array<Record<string, unknown>> = [];
    for (let b = 0; b < 6; b++) {
      const part = batch(tenantId, 200, `missed${b}`);
      await ingestAccepted(svc.baseUrl, token, part);
      missed.push(...part);
    }

    // Resume on a client whose pongs are held back (a slow link): the replay cannot finish before they go,
    // so the next signals are accepted while it is being delivered.
    const gate = pongGate();
    const client = stockClient(svc.baseUrl, tenantId, token, gate.impl);
    clients.add(client);
    const resumed = subscribeEvents(client, tenantId, after);
    await resumed.values.until((evs) => evs.length >= 1, 15_000, "the replay's first event");
    const during = [batch(tenantId, 100, "during0"), batch(tenantId, 100, "during1")];
    await Promise.all(during.map((part) => ingestAccepted(svc.baseUrl, token, part)));
    const receivedMidReplay = resumed.values.items.length;
    console.info(`replay: ${receivedMidReplay} of ${missed.length} received when the concurrent ingest was accepted`);
    expect(receivedMidReplay, "premise: the replay was still being delivered").toBeLessThan(missed.length);
    gate.release();

    await resumed.values.until((evs) => evs.length >= 1400, 30_000, "the replay and the concurrent events");
    const live = batch(tenantId, 3, "live");
    await ingestAccepted(svc.baseUrl, token, live);
    await resumed.values.until((evs) => evs.length >= 1403, 10_000, "the live events after the replay");

    const got = resumed.values.items.map((e) => e.id);
    expect(duplicateIds(got)).toEqual([]);
    expect(got.slice(0, 1200)).toEqual(idsOf(missed));
    // The two concurrent requests were each accepted whole, in one order or the other.
    const [a, b] = during.map(idsOf) as [string[], string[]];
    expect([
      [...a, ...b],
      [...b, ...a],
    ]).toContainEqual(got.slice(1200, 1400));
    expect(got.slice(1400)).toEqual(idsOf(live));
    expect(got.length).toBe(1403);
    expectEventOf(resumed.values.items[0], missed[0] as Record<string, unknown>);
    expect(new Set(resumed.values.items.map((e) => e.cursor)).size).toBe(1403);
  });

  it("delivers a burst of 300 signals, in order, to each of 100 concurrent subscribers", async () => {
    const { tenantId, token } = await tenantWithToken();
    const subs = await Promise.all(Array.from({ length: 100 }, () => liveSubscriber(svc.baseUrl, tenantId, token)));
    for (const s of subs) track(s);
    const burst: Array<Record<string, unknown>> = [];
    for (let b = 0; b < 3; b++) {
      const part = batch(tenantId, 100, `burst${b}`);
      await ingestAccepted(svc.baseUrl, token, part);
      burst.push(...part);
    }
    await Promise.all(
      subs.map((s, i) => s.events.values.until((evs) => evs.length >= 300, 30_000, `300 events on subscriber ${i}`)),
    );
    const want = idsOf(burst);
    for (const [i, s] of subs.entries()) {
      expect(
        s.events.values.items.map((e) => e.id),
        `subscriber ${i}`,
      ).toEqual(want);
    }
  });
});

describe("tenantCoherenceUpdates (§6)", () => {
  it("sends the current score on subscribe and then each change, each equal to the HTTP read after it", async () => {
    const { tenantId, token } = await tenantWithToken();
    const client = stockClient(svc.baseUrl, tenantId, token);
    clients.add(client);
    const scores = subscribeScores(client, tenantId);
    await scores.values.until((s) => s.length >= 1, 10_000, "the score on subscribe");
    const initial = scores.values.items[0] as ScoreUpdate;
    const before = await readScore(svc.baseUrl, tenantId, token);
    expect(initial).toEqual({ ...before, updatedAt: expect.any(String) });
    expect(initial).toMatchObject({ tenantId, score: computeScore([]), status: "UNKNOWN", signalCount: 0 });

    const sent: Array<{ v: number; w: number }> = [];
    const steps = [
      [{ value: 0.9, weight: 2 }],
      [
        { value: 0.1, weight: 1 },
        { value: 0.3, weight: 4 },
      ],
      [{ value: 0.75, weight: 0.5 }],
    ];
    let resend: Array<Record<string, unknown>> = [];
    for (const [i, step] of steps.entries()) {
      const signals = step.map((s) => signal(tenantId, s));
      await ingestAccepted(svc.baseUrl, token, signals);
      resend = signals;
      sent.push(...step.map((s) => ({ v: s.value, w: s.weight })));
      await scores.values.until((s) => s.length >= i + 2, 10_000, `the update after change ${i + 1}`);
      const update = scores.values.items[i + 1] as ScoreUpdate;
      expect(update, `change ${i + 1}`).toEqual(await readScore(svc.baseUrl, tenantId, token));
      expect(update.score).toBe(computeScore(sent));
      expect(update.signalCount).toBe(sent.length);
    }

    // A duplicate changes nothing, so the next update is the one for the next new signal.
    const dup = await ingest(svc.baseUrl, { signals: resend }, token);
    expect(dup.body, dup.text).toMatchObject({ accepted: 0, duplicates: resend.length });
    const next = signal(tenantId, { value: 0.05, weight: 1 });
    await ingestAccepted(svc.baseUrl, token, [next]);
    sent.push({ v: 0.05, w: 1 });
    const count = steps.length + 1;
    await scores.values.until((s) => s.length >= count + 1, 10_000, "the update after the new signal");
    const update = scores.values.items[count] as ScoreUpdate;
    expect(update.signalCount, "an update was sent for the duplicate").toBe(sent.length);
    expect(update).toEqual(await readScore(svc.baseUrl, tenantId, token));
    expect(update.score).toBe(computeScore(sent));
  });
});

describe("persisted-operation addressing over WebSocket (§5, §6)", () => {
  it("runs both subscriptions by id, sha256 id, documentId, extensions.persistedQuery and byte-identical text", async () => {
    const { tenantId, token } = await tenantWithToken();
    const client = stockClient(svc.baseUrl, tenantId, token);
    clients.add(client);
    const eventForms = Object.entries(addressingForms("pq_coherence_events_v1", { tenantId })).map(
      ([form, payload]) => ({ form, sub: collect<EventView>(client, payload, "coherenceEvents") }),
    );
    const scoreForms = Object.entries(addressingForms("pq_tenant_coherence_updates_v1", { tenantId })).map(
      ([form, payload]) => ({ form, sub: collect<ScoreUpdate>(client, payload, "tenantCoherenceUpdates") }),
    );
    // Each score subscription answers at once; the last one's answer means all ten are registered.
    for (const { form, sub } of scoreForms) await sub.values.until((s) => s.length >= 1, 10_000, `score via ${form}`);

    const signals = [signal(tenantId, { value: 0.6, weight: 1 }), signal(tenantId, { value: 0.8, weight: 3 })];
    await ingestAccepted(svc.baseUrl, token, signals);
    for (const { form, sub } of eventForms) {
      await sub.values.until((evs) => evs.length >= 2, 10_000, `events via ${form}`);
      expect(
        sub.values.items.map((e) => e.id),
        form,
      ).toEqual(idsOf(signals));
      expectEventOf(sub.values.items[1], signals[1] as Record<string, unknown>);
    }
    for (const { form, sub } of scoreForms) {
      await sub.values.until((s) => s.at(-1)?.signalCount === 2, 10_000, `the new score via ${form}`);
    }
    const http = await readScore(svc.baseUrl, tenantId, token);
    expect(http.score).toBe(
      computeScore([
        { v: 0.6, w: 1 },
        { v: 0.8, w: 3 },
      ]),
    );
    for (const { form, sub } of scoreForms) expect(sub.values.items.at(-1), form).toEqual(http);
    for (const { form, sub } of eventForms) {
      expect(sub.values.items, form).toEqual(eventForms[0]?.sub.values.items);
    }
  });
});
