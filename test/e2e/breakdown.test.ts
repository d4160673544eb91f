// Why the score is what it is (docs/api.md §5.2) over real HTTP against `npm start`: `pq_tenant_coherence_breakdown_v1`
// after signals from several sources and types, compared with a breakdown computed here from the published signals.
import type { Client } from "graphql-ws";
import { afterAll, describe, expect, it } from "vitest";
import { computeScore } from "../../src/domain/score";
import { mintToken } from "../support/harness";
import { serviceForFile } from "../support/vitest-hooks";
import { expectGraphqlError, graphql, ingest, isoAt, readScore, tenantWithToken } from "./helpers";
import { collect, stockClient } from "./ws-client";

const svc = serviceForFile();
const clients = new Set<Client>();
afterAll(async () => {
  for (const c of clients) await c.dispose();
});

type Sent = { source: string; type: string; value: number; weight: number };

/** The breakdown by `key`, computed from the signals as sent: share, weighted mean and pull, worst first. */
function expected(sent: Sent[], key: "source" | "type") {
  const totalW = sent.reduce((a, s) => a + s.weight, 0);
  const score = sent.reduce((a, s) => a + s.value * s.weight, 0) / totalW;
  const names = [...new Set(sent.map((s) => s[key]))];
  return names
    .map((name) => {
      const own = sent.filter((s) => s[key] === name);
      const w = own.reduce((a, s) => a + s.weight, 0);
      const mean = own.reduce((a, s) => a + s.value * s.weight, 0) / w;
      const pull = (w / totalW) * (mean - score);
      return {
        exact: pull,
        row: {
          key: name,
          signalCount: own.length,
          weightShare: Number((w / totalW).toFixed(4)),
          weightedMean: computeScore(own.map((s) => ({ v: s.value, w: s.weight }))),
          pull: Number(pull.toFixed(4)) || 0,
        },
      };
    })
    .sort((a, b) => a.exact - b.exact)
    .map((x) => x.row);
}

describe("pq_tenant_coherence_breakdown_v1", () => {
  it("explains the score by source and by type, as computed from the published signals", async () => {
    const { tenantId, token } = await tenantWithToken();
    const sources = ["db-primary", "edge-eu", "edge-us", "batch"];
    const types = ["latency", "errors", "saturation"];
    const sent: Sent[] = Array.from({ length: 60 }, (_, i) => ({
      source: sources[i % sources.length] as string,
      type: types[(i * 7) % types.length] as string,
      value: (((i * 37) % 100) / 100) * (i % sources.length === 0 ? 0.4 : 1),
      weight: 1 + (i % 4) * 0.5,
    }));
    const res = await ingest(
      svc.baseUrl,
      { signals: sent.map((s, i) => ({ tenantId, signalId: `b-${i}`, ts: isoAt(-60_000 - i), ...s })) },
      token,
    );
    expect(res.status, res.text).toBe(202);

    const answer = await graphql(
      svc.baseUrl,
      { id: "pq_tenant_coherence_breakdown_v1", variables: { tenantId } },
      token,
    );
    expect(answer.status, answer.text).toBe(200);
    const view = (answer.body as { data: { tenantCoherenceBreakdown: Record<string, unknown> } }).data
      .tenantCoherenceBreakdown;
    const score = await readScore(svc.baseUrl, tenantId, token);
    expect(view).toMatchObject({ tenantId, score: score.score, status: score.status, signalCount: 60 });
    expect(view.bySource).toEqual(expected(sent, "source"));
    expect(view.byType).toEqual(expected(sent, "type"));
    expect((view.bySource as Array<{ key: string }>)[0]?.key).toBe("db-primary");
  });

  it("is the tenant's own: another tenant's token is refused", async () => {
    const { tenantId } = await tenantWithToken();
    const other = await mintToken(`${tenantId}-other`, "coherence:read");
    const res = await graphql(svc.baseUrl, { id: "pq_tenant_coherence_breakdown_v1", variables: { tenantId } }, other);
    expectGraphqlError(res, 403, "FORBIDDEN");
  });
});

describe("tenantCoherenceBreakdownUpdates (pq_tenant_coherence_breakdown_updates_v1)", () => {
  it("sends the breakdown on subscribe and after each change, equal to the query and to the recomputation", async () => {
    const { tenantId, token } = await tenantWithToken();
    const client = stockClient(svc.baseUrl, tenantId, token);
    clients.add(client);
    const updates = collect<Record<string, unknown>>(
      client,
      { query: "", id: "pq_tenant_coherence_breakdown_updates_v1", variables: { tenantId } },
      "tenantCoherenceBreakdownUpdates",
    );
    await updates.values.until((u) => u.length >= 1, 10_000, "the breakdown on subscribe");
    expect(updates.values.items[0]).toMatchObject({ tenantId, signalCount: 0, bySource: [], byType: [] });

    const sent: Sent[] = [];
    const steps: Sent[][] = [
      [{ source: "edge", type: "latency", value: 0.9, weight: 2 }],
      [
        { source: "db", type: "errors", value: 0.1, weight: 3 },
        { source: "edge", type: "errors", value: 0.6, weight: 1 },
      ],
    ];
    for (const [i, step] of steps.entries()) {
      const res = await ingest(
        svc.baseUrl,
        { signals: step.map((s, j) => ({ tenantId, signalId: `u-${i}-${j}`, ts: isoAt(-30_000), ...s })) },
        token,
      );
      expect(res.status, res.text).toBe(202);
      sent.push(...step);
      await updates.values.until((u) => u.length >= i + 2, 10_000, `the breakdown after change ${i + 1}`);
      const update = updates.values.items[i + 1] as Record<string, unknown>;
      expect(update.bySource).toEqual(expected(sent, "source"));
      expect(update.byType).toEqual(expected(sent, "type"));
      const query = await graphql(
        svc.baseUrl,
        { id: "pq_tenant_coherence_breakdown_v1", variables: { tenantId } },
        token,
      );
      expect((query.body as { data: { tenantCoherenceBreakdown: unknown } }).data.tenantCoherenceBreakdown).toEqual(
        update,
      );
    }
  });
});

describe("pq_tenant_coherence_history_v1", () => {
  it("ends with the current score at its minute, and refuses a span outside 1..1440", async () => {
    const { tenantId, token } = await tenantWithToken();
    const sent = [0.2, 0.9, 0.4];
    for (const [i, value] of sent.entries()) {
      const res = await ingest(svc.baseUrl, { tenantId, signalId: `h-${i}`, source: "s", type: "t", value }, token);
      expect(res.status, res.text).toBe(202);
    }
    const score = await readScore(svc.baseUrl, tenantId, token);
    const res = await graphql(svc.baseUrl, { id: "pq_tenant_coherence_history_v1", variables: { tenantId } }, token);
    expect(res.status, res.text).toBe(200);
    const { points } = (res.body as { data: { tenantCoherenceHistory: { points: Array<Record<string, unknown>> } } })
      .data.tenantCoherenceHistory;
    expect(points.at(-1)).toEqual({
      at: new Date(Math.floor(Date.parse(score.updatedAt) / 60_000) * 60_000).toISOString(),
      score: computeScore(sent.map((v) => ({ v }))),
      status: score.status,
      signalCount: 3,
    });
    for (const minutes of [0, 1441]) {
      const bad = await graphql(
        svc.baseUrl,
        { id: "pq_tenant_coherence_history_v1", variables: { tenantId, minutes } },
        token,
      );
      expectGraphqlError(bad, 400, "VALIDATION_FAILED");
    }
  });
});
