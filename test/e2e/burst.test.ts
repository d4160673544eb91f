// A short burst against `npm start` under the log guard: a few thousand requests over 50 connections across every
// route family, with live subscribers, must get exactly the answers each request expects, and the service must
// print no error line (workerd reports requests it cancelled as "hung" only in its output; see test/support/log-guard.ts).
import autocannon from "autocannon";
import { describe, expect, it } from "vitest";
import { mintToken } from "../support/harness";
import { beforeAllOrFail, serviceForFile } from "../support/vitest-hooks";
import { signal } from "./helpers";
import { stockClient, subscribeScores } from "./ws-client";

const TENANT = "burst-tenant";
const REQUESTS = 3_000;
const CONNECTIONS = 50;

const svc = serviceForFile({ env: { RPS_MAX: "1000000" } });
let tenantToken: string;
let operatorToken: string;

beforeAllOrFail(async () => {
  tenantToken = await mintToken(TENANT, "coherence:read coherence:write finops:read");
  operatorToken = await mintToken("*", "metrics:read finops:read");
});

interface Family {
  name: string;
  method: "GET" | "POST";
  path: string;
  headers?: Record<string, string>;
  body?: () => string;
  status: number;
}

function families(): Family[] {
  const auth = { authorization: `Bearer ${tenantToken}`, "content-type": "application/json" };
  const today = new Date().toISOString().slice(0, 10);
  let n = 0;
  return [
    { name: "healthz", method: "GET", path: "/healthz", status: 200 },
    { name: "readyz", method: "GET", path: "/readyz", status: 200 },
    {
      name: "ingest",
      method: "POST",
      path: "/v1/coherence/signals",
      headers: auth,
      body: () => JSON.stringify(signal(TENANT, { signalId: `burst-${n++}` })),
      status: 202,
    },
    {
      name: "read",
      method: "POST",
      path: "/graphql",
      headers: auth,
      body: () => JSON.stringify({ id: "pq_tenant_coherence_v1", variables: { tenantId: TENANT } }),
      status: 200,
    },
    {
      name: "mutation",
      method: "POST",
      path: "/graphql",
      headers: auth,
      body: () =>
        JSON.stringify({
          id: "pq_publish_signal_v1",
          variables: { input: { tenantId: TENANT, type: "t", source: "burst", value: 0.7, signalId: `m-${n++}` } },
        }),
      status: 200,
    },
    {
      name: "usage",
      method: "GET",
      path: `/v1/finops/usage?tenantId=${TENANT}&from=${today}&to=${today}`,
      headers: auth,
      status: 200,
    },
    {
      name: "metrics",
      method: "GET",
      path: "/metrics",
      headers: { authorization: `Bearer ${operatorToken}` },
      status: 200,
    },
    { name: "workbench", method: "GET", path: "/workbench/", status: 200 },
    { name: "unauthenticated", method: "POST", path: "/graphql", body: () => "{}", status: 401 },
    { name: "not found", method: "GET", path: "/nope", status: 404 },
  ];
}

describe("a burst over every route family", () => {
  it("answers each request as expected with live subscribers, and the service prints no error line", async () => {
    const client = stockClient(svc.baseUrl, TENANT, tenantToken);
    const subs = Array.from({ length: 5 }, () => subscribeScores(client, TENANT));
    await Promise.all(subs.map((s) => s.values.until((v) => v.length >= 1, 20_000, "first score")));

    const fams = families();
    const wrong: string[] = [];
    const seen = new Map<string, number>();
    const result = await autocannon({
      url: svc.baseUrl,
      connections: CONNECTIONS,
      amount: REQUESTS,
      timeout: 30,
      requests: fams.map((f) => ({
        method: f.method,
        path: f.path,
        headers: f.headers ?? {},
        ...(f.body ? { setupRequest: (req: Record<string, unknown>) => ({ ...req, body: f.body?.() }) } : {}),
        onResponse: (status: number) => {
          seen.set(f.name, (seen.get(f.name) ?? 0) + 1);
          if (status !== f.status && wrong.length < 20) wrong.push(`${f.name}: ${status} (expected ${f.status})`);
        },
      })),
    });
    for (const s of subs) s.unsubscribe();
    await client.dispose();

    expect(wrong).toEqual([]);
    expect(result.errors + result.timeouts).toBe(0);
    expect([...seen.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(REQUESTS - CONNECTIONS);
    for (const f of fams) expect(seen.get(f.name) ?? 0, f.name).toBeGreaterThan(100);
    // The isolate's batched metric sends run after the answers: give them their window before reading the log.
    await new Promise((r) => setTimeout(r, 1_000));
    svc.checkLog();
  }, 180_000);
});
