// The dev OpenID Provider (scripts/lib/idp.mjs) that `npm start` runs beside the Worker, which trusts it only
// through JWT_JWKS_URL, JWT_ISSUER and JWT_AUDIENCE, as it would a production IdP. Machines: client credentials
// (endpoints from discovery, client_secret_basic and _post) → a JWT → ingest and a persisted GraphQL read; another
// tenant's data → 403. Keys: `npm run idp -- rotate` mid-run, tokens of the old and the new key both accepted.
// People: the authorization code flow with PKCE driven in Debian's Chromium (playwright-core), through the IdP's
// own login and consent pages, ends in a token the Worker accepts for the person's tenant and scopes only.
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, ensureChromium } from "../../scripts/lib/chromium.mjs";
import { freePort } from "../support/harness";
import { serviceForFile } from "../support/vitest-hooks";
import { expectGraphqlError, expectRestError, graphql, type HttpResult, ingest, send, signal } from "./helpers";
import { decodeJwt } from "./tokens";

const root = resolve(import.meta.dirname, "..", "..");
const run = promisify(execFile);
/** What `npm start` sets as JWT_AUDIENCE when none is configured (scripts/lib/idp.mjs DEFAULT_AUDIENCE). */
const AUDIENCE = "urn:coherence";
/** The Worker's JWKS cooldown (src/auth/jwt.ts JWKS_CACHE.cooldownMs) and slack for polling on a busy machine. */
const COOLDOWN_MS = 5_000;
const SLACK_MS = 3_000;

const svc = serviceForFile({ idp: true });
let browser: Browser | null = null;
afterAll(async () => {
  await browser?.close();
});

interface Discovery {
  issuer: string;
  token_endpoint: string;
  authorization_endpoint: string;
  jwks_uri: string;
  grant_types_supported: string[];
  code_challenge_methods_supported: string[];
  token_endpoint_auth_methods_supported: string[];
}

async function discovery(): Promise<Discovery> {
  const res = await send(`${idp().issuer}/.well-known/openid-configuration`);
  expect(res.status, res.text).toBe(200);
  return res.body as Discovery;
}

function idp(): { issuer: string; dir: string } {
  if (!svc.idp) throw new Error("the service was started without its IdP");
  return svc.idp;
}

/** A client-credentials request at the token endpoint named by discovery. */
async function clientCredentials(
  clientId: string,
  secret: string,
  opts: { scope?: string; method?: "basic" | "post" } = {},
): Promise<HttpResult> {
  const { token_endpoint } = await discovery();
  const form = new URLSearchParams({ grant_type: "client_credentials" });
  if (opts.scope !== undefined) form.set("scope", opts.scope);
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (opts.method === "post") {
    form.set("client_id", clientId);
    form.set("client_secret", secret);
  } else {
    headers.authorization = `Basic ${Buffer.from(`${clientId}:${secret}`).toString("base64")}`;
  }
  return send(token_endpoint, { method: "POST", headers, body: form.toString() });
}

async function accessToken(clientId: string, secret: string, opts: { scope?: string; method?: "basic" | "post" } = {}) {
  const res = await clientCredentials(clientId, secret, opts);
  expect(res.status, res.text).toBe(200);
  const body = res.body as { access_token: string; token_type: string; expires_in: number; scope?: string };
  expect(body.token_type).toBe("Bearer");
  return body;
}

/** Ingest and the persisted read `pq_tenant_coherence_v1` for `tenantId`, both with `token`. */
function readAndWrite(token: string, tenantId: string): Promise<[HttpResult, HttpResult]> {
  return Promise.all([
    ingest(svc.baseUrl, signal(tenantId), token),
    graphql(svc.baseUrl, { id: "pq_tenant_coherence_v1", variables: { tenantId } }, token),
  ]);
}

async function expectAccepted(token: string, tenantId: string): Promise<void> {
  const [rest, gql] = await readAndWrite(token, tenantId);
  expect(rest.status, rest.text).toBe(202);
  expect(gql.status, gql.text).toBe(200);
  expect(gql.body, gql.text).toMatchObject({ data: { tenantCoherence: { status: expect.any(String) } } });
}

/** Ingests with `token` every 200 ms until it is accepted; returns how long that took. */
async function msUntilAccepted(token: string, tenantId: string, deadlineMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const res = await ingest(svc.baseUrl, signal(tenantId), token);
    if (res.status === 202) return Date.now() - started;
    expect(res.status, res.text).toBe(401);
    if (Date.now() - started > deadlineMs) throw new Error(`still ${res.status} after ${deadlineMs} ms: ${res.text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs an npm script of the project with the IdP's settings, as a person beside `npm start` would. */
async function npmRun(args: string[]): Promise<string> {
  const port = new URL(idp().issuer).port;
  const { stdout } = await run("npm", ["run", "--silent", ...args], {
    cwd: root,
    env: { ...process.env, IDP: "on", IDP_PORT: port, IDP_DIR: idp().dir },
  });
  return stdout.trim();
}

describe("discovery", () => {
  it("publishes the endpoints and methods an OAuth client needs, for the issuer the Worker trusts", async () => {
    const doc = await discovery();
    expect(doc.issuer).toBe(idp().issuer);
    expect(doc.grant_types_supported).toEqual(expect.arrayContaining(["authorization_code", "client_credentials"]));
    expect(doc.code_challenge_methods_supported).toContain("S256");
    expect(doc.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(["client_secret_basic", "client_secret_post"]),
    );
    const jwks = await send(doc.jwks_uri);
    expect(jwks.status).toBe(200);
    const keys = (jwks.body as { keys: Array<Record<string, unknown>> }).keys;
    expect(keys.length).toBeGreaterThanOrEqual(2); // the signing key and the dev key of `npm run token`
    for (const key of keys) {
      expect(key).toMatchObject({ kty: "EC", alg: "ES256", use: "sig", kid: expect.any(String) });
      expect(key).not.toHaveProperty("d"); // public halves only
    }
  });
});

describe("client credentials (machines)", () => {
  it("issues a JWT for the client's tenant and scopes that the Worker accepts for ingest and a GraphQL read", async () => {
    const body = await accessToken("acme-producer", "acme-producer-secret");
    expect(body.scope).toBe("coherence:read coherence:write");
    const { header, payload } = decodeJwt(body.access_token);
    expect(header).toMatchObject({ alg: "ES256", kid: expect.any(String) });
    expect(payload).toMatchObject({
      iss: idp().issuer,
      aud: AUDIENCE,
      tenant: "acme",
      scope: "coherence:read coherence:write",
      sub: "acme-producer",
    });
    expect(Number(payload.exp) - Number(payload.iat)).toBe(body.expires_in);
    await expectAccepted(body.access_token, "acme");
  });

  it("takes client_secret_post too, and a narrower scope than the client's", async () => {
    const body = await accessToken("globex-producer", "globex-producer-secret", {
      method: "post",
      scope: "coherence:read",
    });
    expect(decodeJwt(body.access_token).payload).toMatchObject({ tenant: "globex", scope: "coherence:read" });
    const [rest, gql] = await readAndWrite(body.access_token, "globex");
    expect(gql.status, gql.text).toBe(200);
    expectRestError(rest, 403, "FORBIDDEN", [body.access_token]); // no coherence:write in this token
  });

  it("refuses a wrong secret and a scope the client was not given", async () => {
    const wrong = await clientCredentials("acme-producer", "not-the-secret");
    expect(wrong.status, wrong.text).toBe(401);
    expect(wrong.body).toMatchObject({ error: "invalid_client" });
    const tooMuch = await clientCredentials("acme-producer", "acme-producer-secret", { scope: "finops:read" });
    expect(tooMuch.status, tooMuch.text).toBe(400);
    expect(tooMuch.body).toMatchObject({ error: "invalid_scope" });
  });

  it("answers 403 when a tenant's token is used on another tenant's data", async () => {
    const { access_token } = await accessToken("acme-producer", "acme-producer-secret");
    const [rest, gql] = await readAndWrite(access_token, "globex");
    expectRestError(rest, 403, "FORBIDDEN", [access_token]);
    expectGraphqlError(gql, 403, "FORBIDDEN", [access_token]);
  });

  it("gives the operator client a tenant-* token that reads metrics and writes no tenant's data", async () => {
    const { access_token } = await accessToken("operator", "operator-secret");
    expect(decodeJwt(access_token).payload).toMatchObject({ tenant: "*" });
    const metrics = await send(`${svc.baseUrl}/metrics`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(metrics.status, metrics.text.slice(0, 300)).toBe(200);
    expectRestError(await ingest(svc.baseUrl, signal("acme"), access_token), 403, "FORBIDDEN", [access_token]);
  });

  it("keeps `npm run token` a shortcut: its dev-key token, and the IdP's by client credentials, both count", async () => {
    const minted = await npmRun(["token", "--", "--tenant", "acme", "--scope", "coherence:read coherence:write"]);
    expect(decodeJwt(minted).payload).toMatchObject({ iss: idp().issuer, aud: AUDIENCE, tenant: "acme" });
    await expectAccepted(minted, "acme");
    const fetched = await npmRun([
      "idp",
      "--",
      "token",
      "--client",
      "acme-producer",
      "--secret",
      "acme-producer-secret",
    ]);
    expect(decodeJwt(fetched).payload).toMatchObject({ iss: idp().issuer, client_id: "acme-producer" });
    await expectAccepted(fetched, "acme");
  });
});

describe("key rotation mid-run (npm run idp -- rotate)", () => {
  it("signs with the new key at once, keeps the old key's tokens valid, and publishes both", async () => {
    const before = await accessToken("acme-producer", "acme-producer-secret");
    const oldKid = decodeJwt(before.access_token).header.kid;
    await expectAccepted(before.access_token, "acme"); // the Worker has fetched the JWKS with the old key

    const rotated = JSON.parse(await npmRun(["idp", "--", "rotate"])) as { kid: string; published: string[] };
    expect(rotated.kid).not.toBe(oldKid);
    expect(rotated.published).toEqual(expect.arrayContaining([rotated.kid, oldKid]));

    const after = await accessToken("acme-producer", "acme-producer-secret");
    expect(decodeJwt(after.access_token).header.kid).toBe(rotated.kid);
    const { jwks_uri } = await discovery();
    const kids = ((await send(jwks_uri)).body as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([oldKid, rotated.kid]));

    // An unknown kid makes the Worker fetch the JWKS again, at most once per cooldown (docs/api.md §1).
    expect(await msUntilAccepted(after.access_token, "acme", COOLDOWN_MS + SLACK_MS)).toBeLessThanOrEqual(
      COOLDOWN_MS + SLACK_MS,
    );
    await expectAccepted(after.access_token, "acme");
    await expectAccepted(before.access_token, "acme");
  });
});

/** The PKCE pair of RFC 7636 (S256). */
function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/**
 * Signs `login` in through the IdP's pages in Chromium (authorization code + PKCE for the public client
 * `workbench`, redirect to a loopback port nobody listens on: the browser is stopped there) and returns the
 * token endpoint's answer.
 */
async function signIn(
  page: Page,
  login: string,
  password: string,
  scope: string,
): Promise<{ access_token: string; id_token?: string; scope?: string }> {
  const doc = await discovery();
  const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
  const { verifier, challenge } = pkce();
  const state = randomBytes(12).toString("base64url");
  const authorize = new URL(doc.authorization_endpoint);
  authorize.search = new URLSearchParams({
    client_id: "workbench",
    response_type: "code",
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  let callback: URL | null = null;
  await page.route(`${redirectUri}**`, async (route) => {
    callback = new URL(route.request().url());
    await route.fulfill({ status: 200, contentType: "text/plain", body: "signed in" });
  });
  await page.goto(authorize.href);
  await page.fill("#login", login);
  await page.fill("#password", password);
  await page.click("#sign-in");
  await page.waitForSelector("#allow");
  await page.click("#allow");
  await page.waitForURL((url) => url.href.startsWith(redirectUri));
  const got = callback as URL | null;
  if (!got) throw new Error("the IdP never redirected to the client");
  expect(got.searchParams.get("state")).toBe(state);
  const code = got.searchParams.get("code");
  expect(code, got.href).toEqual(expect.any(String));
  const exchange = await send(doc.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: "workbench",
      code: code as string,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }).toString(),
  });
  expect(exchange.status, exchange.text).toBe(200);
  return exchange.body as { access_token: string; id_token?: string; scope?: string };
}

describe("authorization code + PKCE (people), in Chromium", () => {
  async function newPage(): Promise<Page> {
    browser ??= await chromium.launch({ executablePath: ensureChromium(), headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext();
    return context.newPage();
  }

  it("signs a demo person in and issues a token for their tenant that the Worker accepts", async () => {
    const page = await newPage();
    const tokens = await signIn(page, "alice", "alice-dev", "openid coherence:read coherence:write");
    const { payload } = decodeJwt(tokens.access_token);
    expect(payload).toMatchObject({
      iss: idp().issuer,
      aud: AUDIENCE,
      sub: "alice",
      tenant: "acme",
      scope: "coherence:read coherence:write",
      client_id: "workbench",
    });
    expect(typeof tokens.id_token).toBe("string");
    await expectAccepted(tokens.access_token, "acme");
    const [rest, gql] = await readAndWrite(tokens.access_token, "globex");
    expectRestError(rest, 403, "FORBIDDEN", [tokens.access_token]);
    expectGraphqlError(gql, 403, "FORBIDDEN", [tokens.access_token]);
  }, 120_000);

  it("grants a person only the scopes they hold, whatever the client asks for", async () => {
    const page = await newPage();
    const tokens = await signIn(page, "bob", "bob-dev", "openid coherence:read coherence:write");
    expect(decodeJwt(tokens.access_token).payload).toMatchObject({ tenant: "globex", scope: "coherence:read" });
    const [rest, gql] = await readAndWrite(tokens.access_token, "globex");
    expect(gql.status, gql.text).toBe(200);
    expectRestError(rest, 403, "FORBIDDEN", [tokens.access_token]);
  }, 120_000);

  it("signs a person in from the workbench, which then shows their tenant live", async () => {
    const page = await newPage();
    await page.goto(`${svc.baseUrl}/workbench/`);
    await page.fill("#issuer", idp().issuer);
    await page.click("#idp-sign-in");
    await page.fill("#login", "alice");
    await page.fill("#password", "alice-dev");
    await page.click("#sign-in");
    await page.click("#allow");
    await page.waitForURL(`${svc.baseUrl}/workbench/`); // back, the code and state gone from the address
    await page
      .waitForFunction(() => document.querySelector("#conn")?.textContent?.startsWith("Live: tenant acme"))
      .catch(async (err: unknown) => {
        throw new Error(`the workbench says "${await page.textContent("#conn")}": ${String(err)}`);
      });
    expect(await page.inputValue("#tenant")).toBe("acme");
    const token = await page.inputValue("#token");
    expect(decodeJwt(token).payload).toMatchObject({ iss: idp().issuer, tenant: "acme", scope: "coherence:read" });
  }, 120_000);

  it("refuses a wrong password on its login page", async () => {
    const page = await newPage();
    const doc = await discovery();
    const { challenge } = pkce();
    const authorize = new URL(doc.authorization_endpoint);
    authorize.search = new URLSearchParams({
      client_id: "workbench",
      response_type: "code",
      redirect_uri: "http://127.0.0.1:9/callback",
      scope: "openid coherence:read",
      code_challenge: challenge,
      code_challenge_method: "S256",
    }).toString();
    await page.goto(authorize.href);
    await page.fill("#login", "alice");
    await page.fill("#password", "wrong");
    await page.click("#sign-in");
    expect(await page.textContent("#error")).toMatch(/wrong password/);
  }, 120_000);
});
