// Contract §1 (auth) over real HTTP against `npm start`: which tokens are refused with 401, which with 403,
// on both the ingest route and /graphql, and that no error ever echoes the token.
import { createHmac, createPrivateKey, generateKeyPairSync, type KeyObject, sign as signBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { mintToken, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";
import {
  expectGraphqlError,
  expectRestError,
  graphql,
  type HttpResult,
  ingest,
  newTenant,
  readScore,
  signal,
  tenantWithToken,
} from "./helpers";

const DEV_KEY_FILE = resolve(import.meta.dirname, "..", "..", ".dev", "dev-jwt-key.json");
const ISSUER = "https://issuer.e2e.test";
const AUDIENCE = "coherence-e2e";

// The strict service trusts an RSA key (RS256) instead of the dev key, and checks iss and aud.
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const RSA_PUBLIC_PEM = rsa.publicKey.export({ type: "spki", format: "pem" }).toString();

let svc: RunningService;
let strict: RunningService;
let devKey: { privatePem: string; publicPem: string; kid: string };

beforeAllOrFail(async () => {
  // One after the other: a starting wrangler binds extra ephemeral ports that a parallel start could pick.
  svc = await startService();
  strict = await startService({ env: { JWT_PUBLIC_KEY: RSA_PUBLIC_PEM, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE } });
  // `npm start` and `npm run token` create the dev key pair on first use.
  devKey = JSON.parse(readFileSync(DEV_KEY_FILE, "utf8"));
});
afterAll(async () => {
  await Promise.all([svc?.stop(), strict?.stop()]);
});

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const nowS = () => Math.floor(Date.now() / 1000);

function claims(tenant: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { tenant, scope: "coherence:read coherence:write", sub: "e2e", iat: nowS(), exp: nowS() + 600, ...extra };
}

/** An ES256 JWT signed by hand with `key` (the dev private key unless another is given). */
function es256(payload: Record<string, unknown>, key: string | KeyObject = devKey.privatePem, kid = devKey.kid) {
  const input = `${b64url({ alg: "ES256", typ: "JWT", kid })}.${b64url(payload)}`;
  const sig = signBytes("sha256", Buffer.from(input), {
    key: typeof key === "string" ? createPrivateKey(key) : key,
    dsaEncoding: "ieee-p1363",
  }).toString("base64url");
  return `${input}.${sig}`;
}

/** An RS256 JWT signed by hand with the strict service's RSA key. */
function rs256(payload: Record<string, unknown>) {
  const input = `${b64url({ alg: "RS256", typ: "JWT" })}.${b64url(payload)}`;
  return `${input}.${signBytes("sha256", Buffer.from(input), rsa.privateKey).toString("base64url")}`;
}

/** Ingest and persisted read with `token` for `tenantId`. */
async function both(token: string, tenantId: string, base = svc.baseUrl): Promise<[HttpResult, HttpResult]> {
  return Promise.all([
    ingest(base, signal(tenantId), token),
    graphql(base, { id: "pq_tenant_coherence_v1", variables: { tenantId } }, token),
  ]);
}

/** Both endpoints answer 401 UNAUTHENTICATED in their own shapes, without echoing the token. */
async function expectUnauthenticated(token: string | undefined, tenantId: string, base = svc.baseUrl) {
  const secrets = token ? [token] : [];
  const [rest, gql] =
    token === undefined
      ? await Promise.all([
          ingest(base, signal(tenantId), undefined),
          graphql(base, { id: "pq_tenant_coherence_v1", variables: { tenantId } }, undefined),
        ])
      : await both(token, tenantId, base);
  expectRestError(rest, 401, "UNAUTHENTICATED", secrets);
  expectGraphqlError(gql, 401, "UNAUTHENTICATED", secrets);
}

describe("401 UNAUTHENTICATED (§1)", () => {
  it("refuses a request without a token", async () => {
    await expectUnauthenticated(undefined, newTenant());
  });

  it("refuses a non-Bearer Authorization header and an empty Bearer", async () => {
    const { tenantId, token } = await tenantWithToken();
    for (const authorization of [`Basic ${Buffer.from("a:b").toString("base64")}`, "Bearer ", `Token ${token}`]) {
      const res = await ingest(svc.baseUrl, signal(tenantId), undefined, { authorization });
      expectRestError(res, 401, "UNAUTHENTICATED", [token]);
    }
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(0);
  });

  it("refuses a garbage token", async () => {
    await expectUnauthenticated("not-a-jwt", newTenant());
    await expectUnauthenticated("aaaa.bbbb.cccc", newTenant());
  });

  it("npm run token mints an already-expired token with --ttl -60 given as two arguments (§0)", async () => {
    const token = await mintToken(newTenant(), "coherence:read", ["--ttl", "-60"]);
    const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as { exp: number };
    expect(payload.exp).toBeLessThan(nowS());
  });

  it("refuses an expired token (--ttl=-60)", async () => {
    const tenantId = newTenant();
    await expectUnauthenticated(await mintToken(tenantId, "coherence:read coherence:write", ["--ttl=-60"]), tenantId);
  });

  it("refuses a token expired 10 s ago (--ttl=-10; leeway is at most 5 s)", async () => {
    const tenantId = newTenant();
    await expectUnauthenticated(await mintToken(tenantId, "coherence:read coherence:write", ["--ttl=-10"]), tenantId);
  });

  it("refuses a token whose nbf is 120 s in the future (--nbf 120)", async () => {
    const tenantId = newTenant();
    await expectUnauthenticated(
      await mintToken(tenantId, "coherence:read coherence:write", ["--nbf", "120"]),
      tenantId,
    );
  });

  it("refuses a token whose nbf is 15 s in the future (leeway is at most 5 s)", async () => {
    const tenantId = newTenant();
    await expectUnauthenticated(await mintToken(tenantId, "coherence:read coherence:write", ["--nbf", "15"]), tenantId);
  });

  it("accepts a token minted with --nbf 0 (control for the nbf cases)", async () => {
    const tenantId = newTenant();
    const token = await mintToken(tenantId, "coherence:read coherence:write", ["--nbf", "0"]);
    const [rest, gql] = await both(token, tenantId);
    expect(rest.status, rest.text).toBe(202);
    expect(gql.status, gql.text).toBe(200);
  });

  it("accepts a hand-signed ES256 token with the dev key (control for the hand-built tokens below)", async () => {
    const tenantId = newTenant();
    const [rest, gql] = await both(es256(claims(tenantId)), tenantId);
    expect(rest.status, rest.text).toBe(202);
    expect(gql.body).toMatchObject({ data: { tenantCoherence: { status: "HEALTHY" } } });
  });

  it("refuses an alg:none token (header {alg:none}, valid claims, empty signature)", async () => {
    const tenantId = newTenant();
    const token = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims(tenantId))}.`;
    await expectUnauthenticated(token, tenantId);
    const withKid = `${b64url({ alg: "none", typ: "JWT", kid: devKey.kid })}.${b64url(claims(tenantId))}.`;
    await expectUnauthenticated(withKid, tenantId);
  });

  it("refuses an HS256 token whose HMAC secret is the dev public key PEM", async () => {
    const tenantId = newTenant();
    const input = `${b64url({ alg: "HS256", typ: "JWT", kid: devKey.kid })}.${b64url(claims(tenantId))}`;
    const sig = createHmac("sha256", devKey.publicPem).update(input).digest("base64url");
    await expectUnauthenticated(`${input}.${sig}`, tenantId);
  });

  it("refuses an ES256 token signed by a key the service does not trust", async () => {
    const tenantId = newTenant();
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    await expectUnauthenticated(es256(claims(tenantId), privateKey), tenantId);
  });

  it("refuses a token whose payload was changed after signing", async () => {
    const victim = newTenant();
    const token = await mintToken(newTenant(), "coherence:read coherence:write");
    const [header, , sig] = token.split(".");
    await expectUnauthenticated(`${header}.${b64url(claims(victim))}.${sig}`, victim);
    expect((await readScore(svc.baseUrl, victim, await mintToken(victim, "coherence:read"))).signalCount).toBe(0);
  });

  it("refuses a token without exp (exp is required)", async () => {
    const tenantId = newTenant();
    const { exp: _exp, ...noExp } = claims(tenantId);
    await expectUnauthenticated(es256(noExp), tenantId);
  });

  it("refuses a correctly signed token without a tenant claim", async () => {
    const tenantId = newTenant();
    const { tenant: _tenant, ...noTenant } = claims(tenantId);
    await expectUnauthenticated(es256(noTenant), tenantId);
  });
});

describe("403 FORBIDDEN (§1)", () => {
  it("refuses signals for another tenant and a read of another tenant's score", async () => {
    const a = await tenantWithToken();
    const b = await tenantWithToken();
    expectRestError(await ingest(svc.baseUrl, signal(b.tenantId), a.token), 403, "FORBIDDEN", [a.token]);
    const read = await graphql(
      svc.baseUrl,
      { id: "pq_tenant_coherence_v1", variables: { tenantId: b.tenantId } },
      a.token,
    );
    expectGraphqlError(read, null, "FORBIDDEN", [a.token]);
    expect(JSON.stringify(read.body)).not.toContain('"score"');
    expect((await readScore(svc.baseUrl, b.tenantId, b.token)).signalCount).toBe(0);
  });

  it("refuses posting signals with a coherence:read-only token and stores nothing", async () => {
    const { tenantId, token } = await tenantWithToken("coherence:read");
    expectRestError(await ingest(svc.baseUrl, signal(tenantId), token), 403, "FORBIDDEN", [token]);
    expect((await readScore(svc.baseUrl, tenantId, token)).signalCount).toBe(0);
  });

  it("refuses reading the score with a coherence:write-only token", async () => {
    const { tenantId, token } = await tenantWithToken("coherence:write");
    const read = await graphql(svc.baseUrl, { id: "pq_tenant_coherence_v1", variables: { tenantId } }, token);
    expectGraphqlError(read, null, "FORBIDDEN", [token]);
  });

  it("refuses a token without any scope on both endpoints", async () => {
    const tenantId = newTenant();
    const token = await mintToken(tenantId, "");
    const [rest, gql] = await both(token, tenantId);
    expectRestError(rest, 403, "FORBIDDEN", [token]);
    expectGraphqlError(gql, null, "FORBIDDEN", [token]);
  });

  it("does not treat look-alike scopes (coherence:writer, coherence:reader) as coherence:write/read", async () => {
    const tenantId = newTenant();
    const token = await mintToken(tenantId, "coherence:reader coherence:writer");
    const [rest, gql] = await both(token, tenantId);
    expectRestError(rest, 403, "FORBIDDEN", [token]);
    expectGraphqlError(gql, null, "FORBIDDEN", [token]);
  });

  it("never lets an operator token (tenant *) read or write coherence data, even with coherence scopes", async () => {
    const target = await tenantWithToken();
    const finops = await mintToken("*", "finops:read");
    const everything = await mintToken("*", "finops:read metrics:read coherence:read coherence:write");
    for (const token of [finops, everything]) {
      expectRestError(await ingest(svc.baseUrl, signal(target.tenantId), token), 403, "FORBIDDEN", [token]);
      const read = await graphql(
        svc.baseUrl,
        { id: "pq_tenant_coherence_full_v1", variables: { tenantId: target.tenantId } },
        token,
      );
      expectGraphqlError(read, null, "FORBIDDEN", [token]);
      const publish = await graphql(
        svc.baseUrl,
        {
          id: "pq_publish_signal_v1",
          variables: { input: { tenantId: target.tenantId, type: "t", source: "s", value: 0.5 } },
        },
        token,
      );
      expectGraphqlError(publish, null, "FORBIDDEN", [token]);
    }
    expect((await readScore(svc.baseUrl, target.tenantId, target.token)).signalCount).toBe(0);
  });
});

describe("token forms (§1)", () => {
  it("accepts scope as an array of strings", async () => {
    const tenantId = newTenant();
    const [rest, gql] = await both(es256(claims(tenantId, { scope: ["coherence:read", "coherence:write"] })), tenantId);
    expect(rest.status, rest.text).toBe(202);
    expect(gql.status, gql.text).toBe(200);
  });

  it("accepts the Bearer scheme in any letter case", async () => {
    const { tenantId, token } = await tenantWithToken();
    const res = await ingest(svc.baseUrl, signal(tenantId), undefined, { authorization: `bearer ${token}` });
    expect(res.status, res.text).toBe(202);
  });

  it("ignores iss and aud claims when JWT_ISSUER and JWT_AUDIENCE are not set", async () => {
    const tenantId = newTenant();
    const token = await mintToken(tenantId, "coherence:read coherence:write", ["--iss", "any", "--aud", "whatever"]);
    expect((await ingest(svc.baseUrl, signal(tenantId), token)).status).toBe(202);
  });
});

describe("RS256 with JWT_PUBLIC_KEY, JWT_ISSUER and JWT_AUDIENCE set (§1)", () => {
  const good = (tenantId: string, extra: Record<string, unknown> = {}) =>
    claims(tenantId, { iss: ISSUER, aud: AUDIENCE, ...extra });

  it("accepts an RS256 token signed by the configured key with the configured iss and aud", async () => {
    const tenantId = newTenant();
    const [rest, gql] = await both(rs256(good(tenantId)), tenantId, strict.baseUrl);
    expect(rest.status, rest.text).toBe(202);
    expect(gql.status, gql.text).toBe(200);
  });

  it("refuses a token for another audience", async () => {
    const tenantId = newTenant();
    await expectUnauthenticated(rs256(good(tenantId, { aud: "someone-else" })), tenantId, strict.baseUrl);
  });

  it("refuses a token from another issuer", async () => {
    const tenantId = newTenant();
    await expectUnauthenticated(rs256(good(tenantId, { iss: "https://evil.example" })), tenantId, strict.baseUrl);
  });

  it("refuses a token without iss and aud claims", async () => {
    const tenantId = newTenant();
    await expectUnauthenticated(rs256(claims(tenantId)), tenantId, strict.baseUrl);
  });

  it("refuses a dev-key ES256 token (npm run token) once another key is configured", async () => {
    const tenantId = newTenant();
    const token = await mintToken(tenantId, "coherence:read coherence:write", ["--iss", ISSUER, "--aud", AUDIENCE]);
    await expectUnauthenticated(token, tenantId, strict.baseUrl);
  });

  it("refuses an HS256 token whose HMAC secret is the configured RSA public key PEM", async () => {
    const tenantId = newTenant();
    const input = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(good(tenantId))}`;
    const sig = createHmac("sha256", RSA_PUBLIC_PEM).update(input).digest("base64url");
    await expectUnauthenticated(`${input}.${sig}`, tenantId, strict.baseUrl);
  });

  it("refuses an expired RS256 token", async () => {
    const tenantId = newTenant();
    await expectUnauthenticated(rs256(good(tenantId, { exp: nowS() - 30 })), tenantId, strict.baseUrl);
  });
});
