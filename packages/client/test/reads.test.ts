import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createCoherenceClient } from "../src/index.ts";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const json = (body: unknown, status: number, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

function scripted(answers: Array<() => Response>) {
  const bodies: unknown[] = [];
  const fetchImpl = (async (_input: string | URL | Request, init?: RequestInit) => {
    bodies.push(JSON.parse(String(init?.body)));
    const next = answers[bodies.length - 1];
    if (!next) throw new Error("no more answers scripted");
    return next();
  }) as typeof fetch;
  return { fetchImpl, bodies };
}

const SCORE = {
  tenantId: "acme",
  score: 0.8,
  status: "HEALTHY",
  updatedAt: "2026-12-04T00:00:00.000Z",
  signalCount: 3,
};

describe("persisted reads", () => {
  it("score() names pq_tenant_coherence_full_v1 by id and retries 429 after Retry-After", async () => {
    const s = scripted([
      () =>
        json({ errors: [{ message: "slow down", extensions: { code: "RATE_LIMITED" } }] }, 429, { "retry-after": "2" }),
      () => json({ data: { tenantCoherence: SCORE } }, 200),
    ]);
    const c = createCoherenceClient({ url: "http://svc.test", token: "t", fetch: s.fetchImpl });
    const p = c.score("acme");
    await vi.advanceTimersByTimeAsync(1999);
    expect(s.bodies).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await p).toEqual(SCORE);
    expect(s.bodies[0]).toEqual({ id: "pq_tenant_coherence_full_v1", variables: { tenantId: "acme" } });
  });

  it("reports GraphQL errors by their code, without retrying a refusal", async () => {
    const s = scripted([
      () => json({ data: null, errors: [{ message: "no", extensions: { code: "FORBIDDEN" } }] }, 403),
    ]);
    const c = createCoherenceClient({ url: "http://svc.test", token: "t", fetch: s.fetchImpl });
    await expect(c.usage("acme", { from: "2026-12-01", to: "2026-12-04" })).rejects.toMatchObject({
      code: "FORBIDDEN",
      status: 403,
      attempts: 1,
    });
    expect(s.bodies[0]).toEqual({
      id: "pq_tenant_usage_v1",
      variables: { tenantId: "acme", from: "2026-12-01", to: "2026-12-04" },
    });
  });

  it("treats an error raised while executing (200 with errors) as a failure", async () => {
    const s = scripted([
      () => json({ data: null, errors: [{ message: "x", extensions: { code: "FINOPS_UNAVAILABLE" } }] }, 200),
    ]);
    const c = createCoherenceClient({ url: "http://svc.test", token: "t", fetch: s.fetchImpl });
    await expect(c.usage("acme", { from: "2026-12-01", to: "2026-12-01" })).rejects.toMatchObject({
      code: "FINOPS_UNAVAILABLE",
    });
  });
});
