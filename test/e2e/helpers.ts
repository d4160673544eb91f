// Shared helpers for the contract e2e tests (test/e2e/*.test.ts): request wrappers over real HTTP and
// assertions on the contract's error shapes. Builds on service.ts; nothing here talks to the service's internals.
import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import { mintToken } from "../support/harness";

export const INGEST_PATH = "/v1/coherence/signals";
export const ONE_MIB = 1024 * 1024;

/** The contract's persisted operation texts (§5), byte for byte. */
export const OPS = {
  pq_tenant_coherence_v1: "query($tenantId:ID!){ tenantCoherence(tenantId:$tenantId){ score status updatedAt } }",
  pq_publish_signal_v1: "mutation($input:PublishCoherenceSignalInput!){ publishCoherenceSignal(input:$input) }",
  pq_tenant_coherence_full_v1:
    "query($tenantId:ID!){ tenantCoherence(tenantId:$tenantId){ tenantId score status updatedAt signalCount } }",
} as const;

/** The 202 body of an ingest request (docs/api.md §4.3). */
export interface IngestOk {
  accepted: number;
  duplicates: number;
  provenanceId: string;
  signals: Array<{ signalId: string; status: "accepted" | "duplicate" }>;
}

export interface HttpResult {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
  text: string;
}

/** Sends one request and returns status, headers, raw text and parsed JSON (when it parses). */
export async function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array<ArrayBuffer> } = {},
): Promise<HttpResult> {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: init.headers ?? {},
    body: init.body,
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body, text };
}

/** `Authorization` header for a token (nothing when `token` is undefined). */
export function bearer(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

/** POSTs to the ingest route; `body` objects are JSON-encoded, strings sent as-is. */
export function ingest(
  baseUrl: string,
  body: unknown,
  token: string | undefined,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return send(`${baseUrl}${INGEST_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...bearer(token), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** POSTs a GraphQL request body to `/graphql`. */
export function graphql(
  baseUrl: string,
  body: unknown,
  token: string | undefined,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return send(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...bearer(token), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export interface ScoreView {
  tenantId: string;
  score: number;
  status: string;
  updatedAt: string;
  signalCount: number;
}

/** Reads a tenant's score through `pq_tenant_coherence_full_v1`; fails the test unless it answers data. */
export async function readScore(baseUrl: string, tenantId: string, token: string): Promise<ScoreView> {
  const res = await graphql(baseUrl, { id: "pq_tenant_coherence_full_v1", variables: { tenantId } }, token);
  expect(res.status, res.text).toBe(200);
  const body = res.body as { data?: { tenantCoherence?: ScoreView }; errors?: unknown };
  expect(body.errors, res.text).toBeUndefined();
  const view = body.data?.tenantCoherence;
  if (!view) throw new Error(`no tenantCoherence in ${res.text}`);
  return view;
}

/** The contract's status band for a score over a non-empty window with positive weight (§4). */
export function band(score: number): "HEALTHY" | "WARN" | "CRITICAL" {
  if (score >= 0.75) return "HEALTHY";
  if (score >= 0.5) return "WARN";
  return "CRITICAL";
}

/** A fresh tenant id, so tests never share data. */
export function newTenant(prefix = "t"): string {
  return `${prefix}-${randomUUID()}`;
}

/** A fresh tenant with a read+write token. */
export async function tenantWithToken(
  scope = "coherence:read coherence:write",
): Promise<{ tenantId: string; token: string }> {
  const tenantId = newTenant();
  return { tenantId, token: await mintToken(tenantId, scope) };
}

/** RFC 3339 instant `offsetMs` from now (negative = past). */
export function isoAt(offsetMs: number): string {
  return new Date(Date.now() + offsetMs).toISOString();
}

let seq = 0;
/** A valid signal for `tenantId` with an explicit signalId and a ts one minute ago, overridable. */
export function signal(tenantId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  seq++;
  return {
    tenantId,
    signalId: `sig-${seq}-${randomUUID()}`,
    type: "latency",
    source: "probe",
    value: 0.8,
    ts: isoAt(-60_000),
    ...overrides,
  };
}

/**
 * Asserts a non-GraphQL error answer: status, `{"error":{"code","message","details"}}` with an
 * UPPER_SNAKE code (the given one when passed), and no trace of any of `secrets` (e.g. the token) anywhere.
 */
export function expectRestError(res: HttpResult, status: number, code?: string, secrets: string[] = []): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get("content-type") ?? "", res.text).toMatch(/json/i);
  const body = res.body as { error?: { code?: unknown; message?: unknown; details?: unknown } };
  expect(body, res.text).toEqual({
    error: { code: expect.any(String), message: expect.any(String), details: expect.any(Array) },
  });
  expect(body.error?.code).toMatch(/^[A-Z][A-Z0-9_]*$/);
  if (code !== undefined) expect(body.error?.code, res.text).toBe(code);
  expectNoSecrets(res, secrets);
}

/**
 * Asserts a `/graphql` failure in the GraphQL shape `{"errors":[{"message","extensions":{"code"}}]}`,
 * with `status` when given (null: any status), and no trace of `secrets` anywhere.
 */
export function expectGraphqlError(res: HttpResult, status: number | null, code: string, secrets: string[] = []): void {
  if (status !== null) expect(res.status, res.text).toBe(status);
  const body = res.body as { errors?: Array<{ message?: unknown; extensions?: { code?: unknown } }>; error?: unknown };
  expect(body, res.text).toMatchObject({ errors: [{ message: expect.any(String), extensions: { code } }] });
  expect(body.error, res.text).toBeUndefined();
  expectNoSecrets(res, secrets);
}

/** Asserts that no secret string appears in the response body or headers. */
export function expectNoSecrets(res: HttpResult, secrets: string[]): void {
  const headerText = [...res.headers.entries()].map(([k, v]) => `${k}: ${v}`).join("\n");
  for (const secret of secrets) {
    expect(res.text.includes(secret), "response body contains a secret").toBe(false);
    expect(headerText.includes(secret), "response headers contain a secret").toBe(false);
  }
}

/** Pads a JSON text with trailing spaces to exactly `bytes` bytes (still valid JSON). */
export function padJson(json: string, bytes: number): string {
  const len = Buffer.byteLength(json);
  if (len > bytes) throw new Error(`json is already ${len} bytes`);
  return json + " ".repeat(bytes - len);
}
