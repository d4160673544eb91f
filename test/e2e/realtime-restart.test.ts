// Contract §0 and §6 across a restart of `npm start` on the same state directory: a subscriber that resumes
// with `after` gets what was accepted before the restart and it had not seen, then live events.
import type { Client } from "graphql-ws";
import { afterAll, describe, expect, it } from "vitest";
import { computeScore } from "../../src/domain/score";
import { tempStateDir } from "../support/harness";
import { servicesForTests } from "../support/vitest-hooks";
import { readScore, signal, tenantWithToken } from "./helpers";
import { idsOf, ingestAccepted, liveSubscriber, stockClient, subscribeEvents, subscribeScores } from "./ws-client";
import { within } from "./ws-wait";

const start = servicesForTests();
const clients = new Set<Client>();
afterAll(async () => {
  await Promise.all([...clients].map((c) => c.dispose()));
});

describe("restart (§0, §6)", () => {
  it("resumes after a restart on the same state dir with the events accepted before it that were not seen, then live ones", async () => {
    const stateDir = tempStateDir();
    const { tenantId, token } = await tenantWithToken();
    const first = await start({ stateDir });

    const sub = await liveSubscriber(first.baseUrl, tenantId, token);
    clients.add(sub.client);
    // A second subscriber stays connected until the service stops under it.
    const stayer = await liveSubscriber(first.baseUrl, tenantId, token);
    clients.add(stayer.client);
    const seen = Array.from({ length: 3 }, (_, i) => signal(tenantId, { value: 0.2 * (i + 1), weight: 1 }));
    await ingestAccepted(first.baseUrl, token, seen);
    await sub.events.values.until((evs) => evs.length >= 3, 10_000, "the events seen before the restart");
    expect(sub.events.values.items.map((e) => e.id)).toEqual(idsOf(seen));
    const cursor = sub.events.values.items[2]?.cursor as string;
    await sub.client.dispose();

    // Accepted after the subscriber left, before the restart.
    const unseen = Array.from({ length: 4 }, (_, i) => signal(tenantId, { value: 0.9 - 0.1 * i, weight: 2 }));
    await ingestAccepted(first.baseUrl, token, unseen);
    const scoreBefore = await readScore(first.baseUrl, tenantId, token);
    await stayer.events.values.until((evs) => evs.length >= 7, 10_000, "every event on the connected subscriber");
    await first.stop();
    // The stop ends the connected subscription (it does not hang), with a close the client can see.
    const end = await within(stayer.events.ended, 10_000, "the connected subscription to end");
    expect(end, "ended by the socket's close").toMatchObject({ code: expect.any(Number) });
    expect(stayer.events.values.items.map((e) => e.id)).toEqual([...idsOf(seen), ...idsOf(unseen)]);
    const stayerCursor = stayer.events.values.items[6]?.cursor as string;

    const second = await start({ stateDir });
    const client = stockClient(second.baseUrl, tenantId, token);
    clients.add(client);
    const resumed = subscribeEvents(client, tenantId, cursor);
    const stayerResumed = subscribeEvents(client, tenantId, stayerCursor);
    const scores = subscribeScores(client, tenantId);
    await resumed.values.until((evs) => evs.length >= unseen.length, 15_000, "the unseen events after the restart");
    await scores.values.until((s) => s.length >= 1, 10_000, "the score on subscribe after the restart");
    expect(scores.values.items[0]).toEqual(scoreBefore);
    expect(scoreBefore.score).toBe(
      computeScore([...seen, ...unseen].map((s) => ({ v: Number(s.value), w: Number(s.weight) }))),
    );

    const live = [signal(tenantId, { value: 0.5, weight: 1 })];
    await ingestAccepted(second.baseUrl, token, live);
    await resumed.values.until((evs) => evs.length >= unseen.length + 1, 10_000, "the live event after the restart");
    expect(resumed.values.items.map((e) => e.id)).toEqual([...idsOf(unseen), ...idsOf(live)]);
    // The subscriber that had seen everything before the stop gets only what came after the restart.
    await stayerResumed.values.until(
      (evs) => evs.length >= 1,
      10_000,
      "the live event on the other resumed subscriber",
    );
    expect(stayerResumed.values.items.map((e) => e.id)).toEqual(idsOf(live));
  });
});
