// The bridge's ingest through @coherence/client, against a scripted service behind an injected fetch: what a
// failure means for a record, where tokens come from, and the metrics and log lines every request leaves.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoherenceError } from "@coherence/client";
import { describe, expect, it } from "vitest";
import { type BridgeConfig, loadConfig } from "../src/config.ts";
import { bridgeTokens, ingestClient, judgeFailure } from "../src/ingest-port.ts";
import type { LogFields } from "../src/log.ts";
import { Metrics } from "../src/metrics.ts";

const signal = (n: number) => ({
  tenantId: "acme",
  signalId: `k-${n}`,
  type: "t",
  source: "s",
  value: 0.5,
  ts: "2026-12-04T00:00:00.000Z",
});

function config(extra: Record<string, string> = {}): BridgeConfig {
  return loadConfig({
    KAFKA_BROKERS: "127.0.0.1:9092",
    INGEST_URL: "http://svc.test",
    BRIDGE_LINGER_MS: "0",
    BRIDGE_BACKOFF_BASE_MS: "1",
    BRIDGE_BACKOFF_MAX_MS: "5",
    ...extra,
  });
}

const json = (body: unknown, status: number, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

function accepted(init: RequestInit | undefined) {
  const n = (JSON.parse(String(init?.body)) as { signals: Array<{ signalId: string }> }).signals;
  return json(
    {
      accepted: n.length,
      duplicates: 0,
      provenanceId: "p",
      signals: n.map((s) => ({ signalId: s.signalId, status: "accepted" })),
    },
    202,
  );
}

describe("judgeFailure", () => {
  it("dead-letters only what the signal or the tenant is at fault for", () => {
    expect(judgeFailure(new CoherenceError("VALIDATION_FAILED", "value: too big", { status: 400 }))).toEqual({
      kind: "dead-letter",
      rejection: { code: "VALIDATION_FAILED", reason: "value: too big" },
    });
    expect(judgeFailure(new CoherenceError("FORBIDDEN", "x", { status: 403 }))).toMatchObject({
      kind: "dead-letter",
      rejection: { code: "FORBIDDEN" },
    });
    expect(judgeFailure(new CoherenceError("SIGNAL_TOO_LARGE", "x"))).toMatchObject({
      rejection: { code: "PAYLOAD_TOO_LARGE" },
    });
    expect(judgeFailure(new CoherenceError("ABORTED", "x"))).toEqual({ kind: "abandoned" });
    expect(judgeFailure(new CoherenceError("UNAUTHENTICATED", "x", { status: 401 }))).toEqual({
      kind: "later",
      code: "UNAUTHENTICATED",
    });
    expect(judgeFailure(new CoherenceError("NOT_FOUND", "x", { status: 404 }))).toEqual({
      kind: "later",
      code: "NOT_FOUND",
    });
  });
});

describe("ingestClient", () => {
  it("counts requests by status and retries by code, logs each, and retries 429 and dropped connections until accepted", async () => {
    const script = [
      () => json({ error: { code: "RATE_LIMITED", message: "slow down", details: [] } }, 429, { "retry-after": "0" }),
      () => {
        throw new TypeError("fetch failed");
      },
    ];
    let calls = 0;
    const fetchImpl = (async (_input: string | URL | Request, init?: RequestInit) =>
      (script[calls++] ?? (() => accepted(init)))()) as typeof fetch;
    const metrics = new Metrics();
    const lines: LogFields[] = [];
    const client = ingestClient(config({ INGEST_TOKEN: "jwt" }), (l) => lines.push(l), metrics, fetchImpl);
    const result = await client.publish(signal(1));
    expect(result).toMatchObject({ signalId: "k-1", status: "accepted" });
    expect(metrics.value("kafka_bridge_ingest_requests_total", { status: "429" })).toBe(1);
    expect(metrics.value("kafka_bridge_ingest_requests_total", { status: "0" })).toBe(1);
    expect(metrics.value("kafka_bridge_ingest_requests_total", { status: "202" })).toBe(1);
    expect(metrics.value("kafka_bridge_ingest_retries_total", { code: "RATE_LIMITED" })).toBe(1);
    expect(metrics.value("kafka_bridge_ingest_retries_total", { code: "NETWORK_ERROR" })).toBe(1);
    expect(lines.map((l) => [l.op, l.outcome, l.error_code ?? null])).toEqual([
      ["bridge_ingest", "retry", "RATE_LIMITED"],
      ["bridge_ingest", "retry", "NETWORK_ERROR"],
      ["bridge_ingest", "accepted", null],
    ]);
    await client.close();
  });

  it("refuses a tenant it has no token for with FORBIDDEN, without a request", async () => {
    let calls = 0;
    const fetchImpl = (async () => {
      calls++;
      return json({}, 500);
    }) as typeof fetch;
    const file = join(mkdtempSync(join(tmpdir(), "bridge-")), "tokens.json");
    writeFileSync(file, JSON.stringify({ other: "jwt" }));
    const client = ingestClient(config({ INGEST_TOKENS_FILE: file }), () => {}, new Metrics(), fetchImpl);
    await expect(client.publish(signal(1))).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(calls).toBe(0);
  });
});

describe("bridgeTokens with OAuth client credentials", () => {
  it("gets each tenant's token with that tenant's client, and static tokens for the others", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bridge-"));
    const clients = join(dir, "clients.json");
    writeFileSync(clients, JSON.stringify({ acme: { clientId: "acme-bridge", clientSecret: "s1" } }));
    const issuer = "http://127.0.0.1:9556";
    const asked: string[] = [];
    const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      if (url.endsWith("/.well-known/openid-configuration"))
        return json({ issuer, token_endpoint: `${issuer}/token` }, 200);
      const auth = new Headers(init?.headers).get("authorization") ?? "";
      const clientId = decodeURIComponent(atob(auth.replace(/^Basic /, "")).split(":")[0] ?? "");
      asked.push(`${clientId} ${new URLSearchParams(String(init?.body)).get("scope")}`);
      return json({ access_token: `token-of-${clientId}`, token_type: "Bearer", expires_in: 600 }, 200);
    }) as typeof fetch;
    const tokens = bridgeTokens(
      config({ INGEST_OAUTH_ISSUER: issuer, INGEST_OAUTH_CLIENTS_FILE: clients, INGEST_TOKEN: "fallback" }),
      () => {},
      fetchImpl,
    );
    expect(await tokens.token({ tenantId: "acme", refresh: false })).toBe("token-of-acme-bridge");
    expect(await tokens.token({ tenantId: "acme", refresh: false })).toBe("token-of-acme-bridge");
    expect(await tokens.token({ tenantId: "globex", refresh: false })).toBe("fallback");
    expect(asked).toEqual(["acme-bridge coherence:write"]);
  });

  it("needs the issuer and the clients file together", () => {
    expect(() => config({ INGEST_OAUTH_ISSUER: "http://127.0.0.1:1" })).toThrow(/go together/);
  });
});
