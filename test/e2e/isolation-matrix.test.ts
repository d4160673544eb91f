// Contract §1 as a matrix, against `npm start`: every guarded row of test/security/endpoints.ts (HTTP routes,
// persisted operations on each route that runs them, the WebSocket route) × every bad-token variant of
// tokens.ts must be refused in that row's shape (401/403 JSON, GraphQL errors, close 4401/4403), with nothing of
// the victim tenant in the answer and nothing stored. The victim is seeded first so that a leak would show.
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import {
  DENIAL,
  ENDPOINTS,
  matrixTargets,
  type PublicEntry,
  pathFor,
  type RequestSpec,
  SCOPES,
  signalFor,
  type Target,
  wsPathTenant,
} from "../security/endpoints";
import { mintToken, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";
import {
  bearer,
  expectGraphqlError,
  expectRestError,
  type HttpResult,
  ingest,
  newTenant,
  readScore,
  send,
} from "./helpers";
import { type DevKey, readDevKey, UNAUTHENTICATED_VARIANTS, VARIANTS, validToken, variantToken } from "./tokens";
import { type CloseInfo, type Frame, RawSocket, refusedUpgrade } from "./ws-raw";

const ISS = "https://issuer.matrix.e2e.test";
const AUD = "coherence-matrix-e2e";
const READ_WRITE = "coherence:read coherence:write";

const targets = matrixTargets();
const cases = targets.flatMap((target) =>
  VARIANTS.filter((variant) => !(target.access.audience === "any" && variant === "other tenant")).map((variant) => ({
    name: `${target.name} × ${variant}`,
    target,
    variant,
  })),
);
const httpCases = cases.filter((c) => c.target.kind === "http");
const wsCases = cases.filter((c) => c.target.kind === "websocket");
const wsTargets = targets.filter((t) => t.kind === "websocket");

let svc: RunningService;
let key: DevKey;
const victim = newTenant("victim");
const attacker = newTenant("attacker");
const control = newTenant("control");
/** Strings only the victim's stored data contains. */
const marker = `victim-secret-${randomUUID()}`;
let victimCount = 0;
const tokens = new Map<string, string | undefined>();

/** Answers that carry data of the victim (or any data at all) contain one of these. */
const LEAKS = [marker, '"score"', '"signalCount"', '"accepted"', '"provenanceId"', '"messages"', '"updatedAt"'];

beforeAllOrFail(async () => {
  svc = await startService({ env: { JWT_ISSUER: ISS, JWT_AUDIENCE: AUD } });
  key = readDevKey(); // `npm start` has created the dev key pair by now
  const seed = await validToken(key, victim, READ_WRITE, ISS, AUD);
  const signals = [0.1, 0.2, 0.3].map((value, i) => ({
    tenantId: victim,
    signalId: `${marker}-${i}`,
    type: "latency",
    source: marker,
    value,
    ts: new Date(Date.now() - 60_000).toISOString(),
  }));
  const seeded = await ingest(svc.baseUrl, { signals }, seed);
  expect(seeded.status, seeded.text).toBe(202);
  victimCount = (await readScore(svc.baseUrl, victim, seed)).signalCount;
  expect(victimCount).toBe(3);
  for (const c of cases) tokens.set(c.name, await variantToken(c.variant, inputsFor(c.target)));
});
afterAll(async () => {
  await svc?.stop();
});

function inputsFor(target: Target) {
  const { audience, scope } = target.access;
  return {
    key,
    iss: ISS,
    aud: AUD,
    principal: audience === "operator" ? "*" : victim,
    scope,
    otherTenant: attacker,
    scopeWithoutNeeded: SCOPES.filter((s) => s !== scope).join(" "),
  };
}

function sendSpec(spec: RequestSpec, token: string | undefined): Promise<HttpResult> {
  return send(`${svc.baseUrl}${spec.path}`, {
    method: spec.method,
    headers: { ...spec.headers, ...bearer(token) },
    ...(spec.body === undefined ? {} : { body: spec.body }),
  });
}

/** Nothing that belongs to the victim (or is data at all) is in the answer. */
function expectNoData(res: HttpResult): void {
  for (const leak of LEAKS) expect(res.text.includes(leak), `answer contains ${leak}: ${res.text}`).toBe(false);
}

/** A GraphQL refusal: only `errors` (and a null `data`), each error with the code and nothing else of note. */
function expectGraphqlDenial(res: HttpResult, status: number, code: string, secrets: string[]): void {
  expectGraphqlError(res, status, code, secrets);
  const body = res.body as Record<string, unknown>;
  expect(
    Object.keys(body).filter((k) => k !== "errors" && k !== "data"),
    res.text,
  ).toEqual([]);
  expect(body.data ?? null, res.text).toBeNull();
  for (const err of body.errors as Array<{ extensions?: { code?: unknown } }>) {
    expect(err.extensions?.code, res.text).toBe(code);
  }
}

describe.concurrent("HTTP rows × token variants are refused with no data (§1, §2)", () => {
  it.each(httpCases)("$name", async ({ name, target, variant }) => {
    if (target.kind !== "http") throw new Error("not an HTTP row");
    const token = tokens.get(name);
    const res = await sendSpec(target.request(victim), token);
    const forbidden = !UNAUTHENTICATED_VARIANTS.has(variant);
    const denial = DENIAL[target.denial];
    const status = forbidden ? denial.forbidden : denial.unauthenticated;
    const code = forbidden ? "FORBIDDEN" : "UNAUTHENTICATED";
    const secrets = token === undefined ? [] : [token];
    if (target.denial === "rest") expectRestError(res, status, code, secrets);
    else expectGraphqlDenial(res, status, code, secrets);
    expectNoData(res);
  });
});

/** The WebSocket URL of a row's route for `tenantId`, as the table spells the path. */
function wsUrl(target: Target & { kind: "websocket" }, tenantId: string): string {
  return `${svc.baseUrl.replace(/^http/, "ws")}${pathFor(target.entry, tenantId)}`;
}

/** The URL a row's operation is served on: the victim's path, or the operators' path `*` for an operator row. */
function servedUrl(target: Target & { kind: "websocket" }, tenantId: string): string {
  return wsUrl(target, wsPathTenant(target, tenantId));
}

/** A valid token for the path {@link servedUrl} names. */
function servedToken(target: Target & { kind: "websocket" }, tenantId: string): Promise<string> {
  return validToken(key, wsPathTenant(target, tenantId), target.access.scope, ISS, AUD);
}

/** Waits for the server's verdict on `connection_init`: its close, or (wrongly) an ack. */
async function verdict(raw: RawSocket): Promise<CloseInfo | "acked"> {
  const acked = await raw
    .next((f) => f.type === "connection_ack", 5_000, "connection_ack")
    .then(
      () => true,
      () => false, // closed (or silent) without an ack
    );
  return acked ? "acked" : raw.closedWithin(5_000);
}

const isData = (f: Frame) => f.type === "next" || f.type === "connection_ack";

describe.concurrent("WebSocket rows × token variants are refused on the upgrade, before the object (§6)", () => {
  it.each(wsCases)("$name", async ({ name, target, variant }) => {
    if (target.kind !== "websocket") throw new Error("not a WebSocket row");
    const refused = await refusedUpgrade(servedUrl(target, victim), tokens.get(name));
    const denial = DENIAL.rest;
    expect(refused.status).toBe(UNAUTHENTICATED_VARIANTS.has(variant) ? denial.unauthenticated : denial.forbidden);
    expect(refused.contentType).toMatch(/json/i);
    expect(JSON.stringify(refused.body)).not.toContain(marker);
  });
});

describe.concurrent("WebSocket rows × token variants are refused at connection_init (§6)", () => {
  it.each(wsCases)("$name", async ({ name, target, variant }) => {
    if (target.kind !== "websocket") throw new Error("not a WebSocket row");
    const token = tokens.get(name);
    // The upgrade with a valid read token for the victim's path (or the operators'): connection_init is judged
    // on its own.
    const raw = await RawSocket.open(servedUrl(target, victim), await servedToken(target, victim));
    raw.send({ type: "connection_init", payload: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    const outcome = await verdict(raw);
    if (outcome === "acked") {
      // Show what the wrongly admitted socket would have streamed, then fail.
      raw.subscribe("leak", { query: "", id: target.op.id, variables: target.op.variables(victim) });
      await raw.next((f) => f.id === "leak", 2_000, "the leaked subscription's first frame").catch(() => {});
      raw.close();
      throw new Error(`connection_init was acknowledged; frames: ${JSON.stringify(raw.frames.items)}`);
    }
    const denial = DENIAL.websocket;
    const expected = UNAUTHENTICATED_VARIANTS.has(variant) ? denial.unauthenticated : denial.forbidden;
    expect(outcome.code, outcome.reason).toBe(expected);
    expect(raw.frames.items.filter(isData)).toEqual([]);
    expect(JSON.stringify(raw.frames.items)).not.toContain(marker);
  });

  it.each(wsTargets)(
    "$name × other tenant, by subscribing with the victim's tenantId → error FORBIDDEN",
    async (target) => {
      if (target.kind !== "websocket") throw new Error("not a WebSocket row");
      const token = await validToken(key, attacker, target.access.scope, ISS, AUD);
      const raw = await RawSocket.open(wsUrl(target, attacker), token);
      await raw.init(token);
      raw.subscribe("theirs", { query: "", id: target.op.id, variables: target.op.variables(victim) });
      const err = await raw.next(
        (f) => f.id === "theirs" && f.type !== "next",
        5_000,
        "the answer to the foreign subscribe",
      );
      expect(err.type, JSON.stringify(err)).toBe("error");
      const errors = err.payload as Array<{ extensions?: { code?: unknown } }>;
      expect(errors[0]?.extensions?.code, JSON.stringify(err)).toBe("FORBIDDEN");
      expect(raw.frames.items.filter((f) => f.type === "next")).toEqual([]);
      expect(JSON.stringify(raw.frames.items)).not.toContain(marker);
      raw.close();
    },
  );
});

describe.concurrent("every row serves a valid token (control: the refusals above are the token's doing)", () => {
  it.each(targets)("$name", async (target) => {
    const { audience, scope } = target.access;
    // Writes go to a control tenant, so the victim's count below proves that no refused write was stored.
    const tenant = scope === "coherence:write" ? control : victim;
    if (target.kind === "http") {
      const token = await validToken(key, audience === "operator" ? "*" : tenant, scope, ISS, AUD);
      const res = await sendSpec(target.request(tenant), token);
      expect(res.status, res.text).toBe(target.okStatus);
      if (target.field)
        expect((res.body as { data?: Record<string, unknown> }).data?.[target.field], res.text).toBeDefined();
      return;
    }
    if (audience === "operator") {
      // The operators' path: an operator token gets the overview's snapshot, which lists the tenants seeded here.
      const operatorToken = await servedToken(target, control);
      const raw = await RawSocket.open(servedUrl(target, control), operatorToken);
      await raw.init(operatorToken);
      raw.subscribe("s", { query: "", id: target.op.id, variables: target.op.variables(control) });
      const first = await raw.next((f) => f.id === "s", 5_000, `data on ${target.op.id}`);
      expect(first.type, JSON.stringify(first)).toBe("next");
      expect(JSON.stringify(first.payload)).toContain(target.op.field);
      raw.close();
      return;
    }
    // Subscriptions run on the control tenant, which the control may write to without touching the victim.
    const controlToken = await validToken(key, control, scope, ISS, AUD);
    const raw = await RawSocket.open(wsUrl(target, control), controlToken);
    await raw.init(controlToken);
    raw.subscribe("s", { query: "", id: target.op.id, variables: target.op.variables(control) });
    // Handled in order: the score's first answer means "s" is registered, so the signal below cannot be missed.
    raw.subscribe("ready", { query: "", id: "pq_tenant_coherence_updates_v1", variables: { tenantId: control } });
    await raw.next((f) => f.id === "ready" && f.type === "next", 5_000, "the first score");
    const write = await ingest(svc.baseUrl, signalFor(control), await validToken(key, control, READ_WRITE, ISS, AUD));
    expect(write.status, write.text).toBe(202);
    await raw.next((f) => f.id === "s" && f.type === "next", 5_000, `data on ${target.op.id}`);
    expect(raw.frames.items.filter((f) => f.type === "error" || f.type === "complete")).toEqual([]);
    raw.close();
  });

  it("serves a token from `npm run token` with the service's --iss/--aud (the matrix signs the same way)", async () => {
    const token = await mintToken(control, READ_WRITE, ["--iss", ISS, "--aud", AUD]);
    expect((await readScore(svc.baseUrl, control, token)).tenantId).toBe(control);
  });

  it.each(ENDPOINTS.filter((e): e is PublicEntry => e.access.kind === "public"))(
    "public $method $path answers without a token and holds no tenant data",
    async (entry) => {
      const res = await sendSpec(entry.sample(), undefined);
      expect([200, 503], res.text).toContain(res.status);
      if (entry.path !== "/readyz") expect(res.status, res.text).toBe(200);
      expect(res.text).not.toContain(marker);
    },
  );
});

describe("after the matrix", () => {
  it("stored nothing for the victim: its signal count is what the seed left", async () => {
    const token = await validToken(key, victim, "coherence:read", ISS, AUD);
    expect((await readScore(svc.baseUrl, victim, token)).signalCount).toBe(victimCount);
  });
});
