// Contract §1 with `JWT_JWKS_URL`, against `npm start`: the test serves a JWKS on loopback (RS256 and ES256
// keys, plus an HMAC member that must never be used), counts its fetches, and drives the service through the
// real ingest route and a persisted GraphQL read. The cases run in order on one service, because the service's
// key cache is the thing under test: down at start → recovery → kid selection → unknown kids → rotation → removal.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";
import { expectGraphqlError, expectRestError, graphql, type HttpResult, ingest, newTenant, signal } from "./helpers";
import { claims, hs256Jwt, nowS, publishedJwk, signJwt, unsignedJwt } from "./tokens";

const ISSUER = "https://issuer.jwks.e2e.test";
const AUDIENCE = "coherence-jwks-e2e";
const SCOPE = "coherence:read coherence:write";
/** The service's JWKS cooldown (src/auth/jwt.ts JWKS_CACHE.cooldownMs): the least time between two fetches. */
const COOLDOWN_MS = 5_000;
/** Slack for polling and request latency on top of a documented bound. */
const SLACK_MS = 1_500;

/** The JWKS this test publishes: which members it serves, with which Cache-Control, and how often it was fetched. */
class JwksServer {
  keys: JWK[] = [];
  cacheControl = "max-age=600";
  fetches = 0;
  private server: Server | null = null;

  constructor(readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/.well-known/jwks.json`;
  }

  /** Starts answering on the port chosen up front (the service was told the URL before). */
  listen(): Promise<void> {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url !== "/.well-known/jwks.json") {
        res.writeHead(404).end();
        return;
      }
      this.fetches++;
      res.writeHead(200, { "content-type": "application/json", "cache-control": this.cacheControl });
      res.end(JSON.stringify({ keys: this.keys }));
    });
    this.server = server;
    return new Promise((ok, fail) => {
      server.once("error", fail);
      server.listen(this.port, "127.0.0.1", () => ok());
    });
  }

  close(): Promise<void> {
    return new Promise((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }
}

type Pair = { privateKey: CryptoKey; publicKey: CryptoKey };
let svc: RunningService;
let jwks: JwksServer;
let rsaA: Pair;
let ecE: Pair;
let rsaB: Pair;
let jwkA: JWK;
let jwkE: JWK;
let jwkB: JWK;
const HMAC_SECRET = new TextEncoder().encode("an HMAC secret that a JWKS should never carry");
const octMember: JWK = { kty: "oct", kid: "hmac-1", alg: "HS256", k: Buffer.from(HMAC_SECRET).toString("base64url") };

beforeAllOrFail(async () => {
  [rsaA, ecE, rsaB] = await Promise.all([
    generateKeyPair("RS256", { extractable: true }),
    generateKeyPair("ES256", { extractable: true }),
    generateKeyPair("RS256", { extractable: true }),
  ]);
  jwkA = publishedJwk(await exportJWK(rsaA.publicKey), "rsa-a", "RS256");
  jwkE = publishedJwk(await exportJWK(ecE.publicKey), "ec-e", "ES256");
  jwkB = publishedJwk(await exportJWK(rsaB.publicKey), "rsa-b", "RS256");
  jwks = new JwksServer(await freePort());
  jwks.keys = [jwkA, jwkE, octMember];
  // JWT_PUBLIC_KEY="" switches off the dev PEM that `npm start` sets by default (a PEM wins over a JWKS).
  svc = await startService({
    env: { JWT_PUBLIC_KEY: "", JWT_JWKS_URL: jwks.url, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE },
  });
});
afterAll(async () => {
  await Promise.all([svc?.stop(), jwks?.close()]);
});

/** Claims the service accepts: its issuer and audience, ten minutes of validity; `extra` wins. */
const good = (tenantId: string, extra: Record<string, unknown> = {}) =>
  claims(tenantId, SCOPE, { iss: ISSUER, aud: AUDIENCE, ...extra });

/** Ingest and the persisted read `pq_tenant_coherence_v1`, both with `token`. */
function both(token: string, tenantId: string): Promise<[HttpResult, HttpResult]> {
  return Promise.all([
    ingest(svc.baseUrl, signal(tenantId), token),
    graphql(svc.baseUrl, { id: "pq_tenant_coherence_v1", variables: { tenantId } }, token),
  ]);
}

async function expectAccepted(token: string, tenantId: string): Promise<void> {
  const [rest, gql] = await both(token, tenantId);
  expect(rest.status, rest.text).toBe(202);
  expect(gql.status, gql.text).toBe(200);
  expect(gql.body, gql.text).toMatchObject({ data: { tenantCoherence: { status: expect.any(String) } } });
}

async function expectRefused(token: string, tenantId: string): Promise<void> {
  const [rest, gql] = await both(token, tenantId);
  expectRestError(rest, 401, "UNAUTHENTICATED", [token]);
  expectGraphqlError(gql, 401, "UNAUTHENTICATED", [token]);
}

/** Ingests with `token` every 200 ms until the answer is `status`; returns the milliseconds that took. */
async function msUntilIngest(token: string, tenantId: string, status: number, deadlineMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const res = await ingest(svc.baseUrl, signal(tenantId), token);
    if (res.status === status) return Date.now() - started;
    expect([202, 401], res.text).toContain(res.status);
    if (Date.now() - started > deadlineMs) throw new Error(`still ${res.status} after ${deadlineMs} ms: ${res.text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("JWT_JWKS_URL, in order on one service (§1)", () => {
  it("answers 401 (not 500) while the JWKS cannot be reached, then recovers within the cooldown", async () => {
    const tenantId = newTenant("jwks");
    const token = await signJwt("RS256", rsaA.privateKey, "rsa-a", good(tenantId));
    await expectRefused(token, tenantId);
    await jwks.listen();
    const ms = await msUntilIngest(token, tenantId, 202, COOLDOWN_MS + SLACK_MS);
    console.info(`JWKS back: first token accepted after ${ms} ms`);
    expect(jwks.fetches).toBeGreaterThanOrEqual(1);
    await expectAccepted(token, tenantId);
  });

  it("accepts RS256 and ES256 tokens by kid from the cached set, without fetching it again", async () => {
    const before = jwks.fetches;
    const tenantId = newTenant("jwks");
    await expectAccepted(await signJwt("RS256", rsaA.privateKey, "rsa-a", good(tenantId)), tenantId);
    await expectAccepted(await signJwt("ES256", ecE.privateKey, "ec-e", good(tenantId)), tenantId);
    expect(jwks.fetches).toBe(before);
  });

  it("refuses unknown kids with 401 and fetches the JWKS at most once per cooldown for them", async () => {
    const tenantId = newTenant("jwks");
    const stranger = await generateKeyPair("RS256");
    const tokens = await Promise.all(
      Array.from({ length: 40 }, (_, i) => signJwt("RS256", stranger.privateKey, `unknown-${i}`, good(tenantId))),
    );
    const before = jwks.fetches;
    const started = Date.now();
    for (let i = 0; i < tokens.length; i += 8) {
      const answers = await Promise.all(tokens.slice(i, i + 8).map((t) => ingest(svc.baseUrl, signal(tenantId), t)));
      for (const [j, res] of answers.entries()) expectRestError(res, 401, "UNAUTHENTICATED", [tokens[i + j] as string]);
    }
    const elapsed = Date.now() - started;
    expect(elapsed, "the burst must fit in one cooldown for the bound below").toBeLessThan(COOLDOWN_MS);
    expect(jwks.fetches - before, `fetches for 40 unknown kids in ${elapsed} ms`).toBeLessThanOrEqual(1);
  });

  it("accepts a key rotated into the JWKS within the cooldown, with one fetch", async () => {
    jwks.cacheControl = "max-age=1"; // the service clamps this to its 5 s floor; the removal case below needs it
    jwks.keys = [jwkA, jwkE, jwkB, octMember];
    const before = jwks.fetches;
    const tenantId = newTenant("jwks");
    const token = await signJwt("RS256", rsaB.privateKey, "rsa-b", good(tenantId));
    const ms = await msUntilIngest(token, tenantId, 202, COOLDOWN_MS + SLACK_MS);
    console.info(`rotation: the new kid was accepted ${ms} ms after it was published`);
    expect(jwks.fetches - before).toBe(1);
    await expectAccepted(token, tenantId);
  });

  it("stops accepting a key removed from the JWKS once the set is older than its max-age, cached tokens included", async () => {
    const tenantId = newTenant("jwks");
    const tokenA = await signJwt("RS256", rsaA.privateKey, "rsa-a", good(tenantId));
    await expectAccepted(tokenA, tenantId); // now in the service's verified-token cache
    jwks.keys = [jwkE, jwkB, octMember];
    // The set fetched at rotation carries max-age=1 (clamped to 5 s): within that A must stop counting.
    const ms = await msUntilIngest(tokenA, tenantId, 401, COOLDOWN_MS + SLACK_MS);
    console.info(`removal: the removed kid was refused ${ms} ms after it left the JWKS`);
    await expectRefused(tokenA, tenantId);
    await expectAccepted(await signJwt("RS256", rsaB.privateKey, "rsa-b", good(tenantId)), tenantId);
    await expectAccepted(await signJwt("ES256", ecE.privateKey, "ec-e", good(tenantId)), tenantId);
    jwks.cacheControl = "max-age=600";
  });

  it("refuses a token without kid, even though its signature is good (keys are chosen by kid)", async () => {
    const tenantId = newTenant("jwks");
    await expectRefused(await signJwt("RS256", rsaB.privateKey, null, good(tenantId)), tenantId);
    await expectRefused(await signJwt("ES256", ecE.privateKey, null, good(tenantId)), tenantId);
  });

  it("never verifies with the JWKS's HMAC (kty oct) member", async () => {
    const tenantId = newTenant("jwks");
    await expectRefused(hs256Jwt(good(tenantId), HMAC_SECRET, { kid: "hmac-1" }), tenantId);
    await expectRefused(await signJwt("RS256", rsaB.privateKey, "hmac-1", good(tenantId)), tenantId);
  });

  it("refuses alg none, and HS256 keyed with the RSA public key's PEM or its JWK n", async () => {
    const tenantId = newTenant("jwks");
    await expectRefused(unsignedJwt(good(tenantId), { kid: "rsa-b" }), tenantId);
    await expectRefused(hs256Jwt(good(tenantId), await exportSPKI(rsaB.publicKey), { kid: "rsa-b" }), tenantId);
    await expectRefused(hs256Jwt(good(tenantId), String(jwkB.n), { kid: "rsa-b" }), tenantId);
    await expectRefused(hs256Jwt(good(tenantId), Buffer.from(String(jwkB.n), "base64url"), { kid: "rsa-b" }), tenantId);
  });

  it("refuses a known kid with a signature from another key, or naming a key of another type", async () => {
    const tenantId = newTenant("jwks");
    const stranger = await generateKeyPair("RS256");
    await expectRefused(await signJwt("RS256", stranger.privateKey, "rsa-b", good(tenantId)), tenantId);
    await expectRefused(await signJwt("RS256", rsaB.privateKey, "ec-e", good(tenantId)), tenantId);
  });

  it("checks iss and aud", async () => {
    const tenantId = newTenant("jwks");
    const sign = (extra: Record<string, unknown>) => signJwt("RS256", rsaB.privateKey, "rsa-b", good(tenantId, extra));
    await expectRefused(await sign({ iss: "https://evil.example" }), tenantId);
    await expectRefused(await sign({ aud: "someone-else" }), tenantId);
    const { iss: _iss, aud: _aud, ...bare } = good(tenantId);
    await expectRefused(await signJwt("RS256", rsaB.privateKey, "rsa-b", bare), tenantId);
  });

  it("allows 5 s of clock skew on exp and nbf, not more", async () => {
    const tenantId = newTenant("jwks");
    const sign = (extra: Record<string, unknown>) => signJwt("ES256", ecE.privateKey, "ec-e", good(tenantId, extra));
    await expectRefused(await sign({ iat: nowS() - 70, exp: nowS() - 10 }), tenantId);
    await expectRefused(await sign({ nbf: nowS() + 15 }), tenantId);
    await expectAccepted(await sign({ nbf: nowS() + 3 }), tenantId);
    await expectAccepted(await sign({ iat: nowS() - 70, exp: nowS() - 2 }), tenantId);
  });
});
