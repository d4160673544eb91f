// The dev OpenID Provider: `oidc-provider` (a certified implementation) on loopback, beside the Worker under
// `npm start` (and in the e2e tests that ask for it). It is an ordinary OIDC issuer: discovery, JWKS, the
// authorization code flow with PKCE for the demo people of idp/users.json (its own login and consent pages) and
// client_credentials for the machine clients of idp/clients.json. Access tokens are JWTs (resource indicators)
// for one resource, the Worker, with `iss`, `aud` (JWT_AUDIENCE), `tenant` and `scope` as src/auth/jwt.ts reads
// them. Signing keys (ES256) persist in a gitignored folder (IDP_DIR, default .dev/idp); `rotateKeys` adds one
// and keeps the retired ones published until the tokens they signed have expired; a running provider picks the
// change up at its next request. The JWKS also publishes the dev key `npm run token` signs with, so that shortcut
// keeps working against a Worker that trusts the IdP.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import { devKeys } from "./dev-jwt.mjs";
import { root } from "./env.mjs";

/** The audience (and resource indicator) of the Worker when JWT_AUDIENCE is not set. */
export const DEFAULT_AUDIENCE = "urn:coherence";
/** The port the IdP listens on under `npm start` when IDP_PORT is not set. */
export const DEFAULT_IDP_PORT = 8788;
/** Scopes the Worker knows (docs/api.md §1; `ops:write` is the ops endpoints' addition). */
export const RESOURCE_SCOPES = ["coherence:read", "coherence:write", "finops:read", "metrics:read", "ops:write"];
/** Access token lifetime (seconds) unless IDP_ACCESS_TOKEN_TTL_S says otherwise. */
export const DEFAULT_ACCESS_TOKEN_TTL_S = 3600;
/** A retired key stays published this long after the last token it signed has expired (clock skew). */
const RETIRED_GRACE_S = 60;

/** @typedef {{ login: string; password: string; name?: string; tenant: string; scopes: string[] }} DemoUser */
/**
 * @typedef {{ client_id: string; client_secret?: string; tenant?: string; scope?: string; public?: boolean;
 *   redirect_uris?: string[] }} DemoClient
 */
/** @typedef {{ kid: string; jwk: Record<string, unknown>; createdAt: number; retiredAt: number | null }} StoredKey */

/** The folder holding the signing keys: IDP_DIR, else .dev/idp. */
export function idpDir() {
  return process.env.IDP_DIR ?? join(root, ".dev", "idp");
}

/** The issuer of an IdP on `port` (loopback). @param {number} port */
export function issuerFor(port) {
  return `http://127.0.0.1:${port}`;
}

/** Access token lifetime in seconds (IDP_ACCESS_TOKEN_TTL_S, default one hour). */
export function accessTokenTtlS() {
  const raw = process.env.IDP_ACCESS_TOKEN_TTL_S;
  const ttl = raw === undefined ? DEFAULT_ACCESS_TOKEN_TTL_S : Number(raw);
  if (!Number.isInteger(ttl) || ttl < 30 || ttl > 86_400) throw new Error("IDP_ACCESS_TOKEN_TTL_S: 30..86400 seconds");
  return ttl;
}

/**
 * Whether `npm start` runs the IdP: unless IDP=off, or the Worker is given its own token keys
 * (JWT_PUBLIC_KEY or JWT_JWKS_URL in the environment or .dev.vars: a real IdP, or a test's keys).
 * @param {Record<string, string>} explicit settings from the environment and .dev.vars only
 */
export function idpWanted(explicit) {
  const mode = (process.env.IDP ?? "on").toLowerCase();
  if (mode === "off") return false;
  if (mode !== "on") throw new Error("IDP must be on or off");
  return !explicit.JWT_PUBLIC_KEY && !explicit.JWT_JWKS_URL;
}

/** @param {string} file */
function readJson(file) {
  return JSON.parse(readFileSync(file, "utf8"));
}

/** The demo people (idp/users.json, or IDP_USERS_FILE). @returns {DemoUser[]} */
export function demoUsers() {
  return readJson(process.env.IDP_USERS_FILE ?? join(root, "idp", "users.json")).users;
}

/** The OAuth clients (idp/clients.json, or IDP_CLIENTS_FILE). @returns {DemoClient[]} */
export function demoClients() {
  return readJson(process.env.IDP_CLIENTS_FILE ?? join(root, "idp", "clients.json")).clients;
}

const keysFile = (/** @type {string} */ dir) => join(dir, "keys.json");

/** @param {string} dir @param {{ keys: StoredKey[] }} data */
function writeKeys(dir, data) {
  const tmp = `${keysFile(dir)}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, keysFile(dir));
}

/** A new ES256 private JWK with its `kid`. @returns {Promise<StoredKey>} */
async function newKey() {
  const { exportJWK, generateKeyPair } = await import("jose");
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const kid = `idp-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  const jwk = { ...(await exportJWK(privateKey)), kid, alg: "ES256", use: "sig" };
  return { kid, jwk, createdAt: Math.floor(Date.now() / 1000), retiredAt: null };
}

/**
 * The stored keys, the signing one first; creates the folder and a first key when absent (atomically, so two
 * starts at once agree on one key).
 * @param {string} dir
 * @returns {Promise<StoredKey[]>}
 */
export async function loadKeys(dir) {
  if (!existsSync(keysFile(dir))) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${keysFile(dir)}.${process.pid}.init`;
    writeFileSync(tmp, `${JSON.stringify({ keys: [await newKey()] }, null, 2)}\n`, { mode: 0o600 });
    try {
      linkSync(tmp, keysFile(dir));
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== "EEXIST") throw err;
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return readJson(keysFile(dir)).keys;
}

/**
 * Keys still published at `nowS`: the signing key and every retired key whose tokens may not have expired yet.
 * @param {StoredKey[]} keys
 * @param {number} nowS
 * @param {number} ttlS
 */
export function publishedKeys(keys, nowS, ttlS) {
  return keys.filter((k) => k.retiredAt === null || nowS < k.retiredAt + ttlS + RETIRED_GRACE_S);
}

/**
 * Adds a new signing key; the previous signing key is retired (still published, no longer signing) and keys
 * retired longer ago than a token's lifetime are dropped.
 * @param {string} dir
 * @param {number} [ttlS]
 * @returns {Promise<{ kid: string; published: string[]; dropped: string[] }>}
 */
export async function rotateKeys(dir, ttlS = accessTokenTtlS()) {
  const nowS = Math.floor(Date.now() / 1000);
  const keys = await loadKeys(dir);
  const fresh = await newKey();
  const retired = keys.map((k) => (k.retiredAt === null ? { ...k, retiredAt: nowS } : k));
  const kept = publishedKeys(retired, nowS, ttlS);
  writeKeys(dir, { keys: [fresh, ...kept] });
  return {
    kid: fresh.kid,
    published: [fresh, ...kept].map((k) => k.kid),
    dropped: retired.filter((k) => !kept.includes(k)).map((k) => k.kid),
  };
}

/** The dev key `npm run token` signs with, as a private JWK the provider publishes (never signs with). */
async function devJwk() {
  const { exportJWK, importPKCS8 } = await import("jose");
  const keys = await devKeys();
  const key = await importPKCS8(keys.privatePem, "ES256", { extractable: true });
  return { ...(await exportJWK(key)), kid: keys.kid, alg: "ES256", use: "sig" };
}

/** @param {string} s */
function html(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** @param {string} a @param {string} b */
function sameSecret(a, b) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** @param {import("node:http").IncomingMessage} req @returns {Promise<Buffer>} */
async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error("request body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Options of {@link startIdp}.
 * @typedef {{ port?: number; dir?: string; audience?: string; ttlS?: number; log?: (line: string) => void }} IdpOptions
 */

/**
 * Starts the provider on 127.0.0.1 (`port` 0: a free one).
 * @param {IdpOptions} [opts]
 * @returns {Promise<{ issuer: string; jwksUrl: string; audience: string; port: number; stop: () => Promise<void> }>}
 */
export async function startIdp(opts = {}) {
  const { default: Provider, errors } = await import("oidc-provider");
  // The provider's own in-memory store, under a name of ours: it warns about the default adapter on every start,
  // and in-memory sessions and grants are what a dev IdP wants (the log line below says so once).
  // @ts-expect-error: @types/oidc-provider declares the package's entry point only.
  const { default: MemoryAdapter } = await import("oidc-provider/lib/adapters/memory_adapter.js");
  class DevMemoryAdapter extends MemoryAdapter {}
  const dir = opts.dir ?? idpDir();
  const audience = opts.audience ?? DEFAULT_AUDIENCE;
  const ttlS = opts.ttlS ?? accessTokenTtlS();
  const log = opts.log ?? ((line) => process.stderr.write(`[idp] ${line}\n`));
  const users = new Map(demoUsers().map((u) => [u.login, u]));
  const clients = new Map(demoClients().map((c) => [c.client_id, c]));
  // The resource indicator of the Worker: its audience when that is a URI (RFC 8707), else the default one.
  const resource = URL.canParse(audience) ? audience : DEFAULT_AUDIENCE;
  const dev = await devJwk();
  const cookieKeys = [randomBytes(32).toString("base64url")];

  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once("error", (/** @type {NodeJS.ErrnoException} */ err) =>
      reject(
        err.code === "EADDRINUSE"
          ? new Error(
              `the IdP's port ${opts.port} is in use (Address already in use): set IDP_PORT (0: any free port) or IDP=off`,
            )
          : err,
      ),
    );
    server.listen(opts.port ?? DEFAULT_IDP_PORT, "127.0.0.1", () => resolve(undefined));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const issuer = issuerFor(port);

  /** @param {StoredKey[]} keys */
  function buildProvider(keys) {
    const signing = keys.find((k) => k.retiredAt === null) ?? keys[0];
    if (!signing) throw new Error(`no signing key in ${keysFile(dir)}`);
    const provider = new Provider(issuer, {
      clients: [...clients.values()].map((c) =>
        c.public
          ? {
              client_id: c.client_id,
              application_type: "native",
              token_endpoint_auth_method: "none",
              grant_types: ["authorization_code", "refresh_token"],
              response_types: ["code"],
              redirect_uris: c.redirect_uris ?? [],
              scope: ["openid", ...RESOURCE_SCOPES].join(" "),
            }
          : {
              client_id: c.client_id,
              client_secret: c.client_secret,
              token_endpoint_auth_method: "client_secret_basic",
              grant_types: ["client_credentials"],
              response_types: [],
              redirect_uris: [],
              scope: c.scope ?? "",
              tenant: c.tenant,
            },
      ),
      adapter: DevMemoryAdapter,
      extraClientMetadata: { properties: ["tenant"] },
      responseTypes: ["code"],
      clientAuthMethods: ["client_secret_basic", "client_secret_post", "none"],
      scopes: ["openid", ...RESOURCE_SCOPES],
      claims: { openid: ["sub"], profile: ["name"], tenant: ["tenant"] },
      findAccount: async (_ctx, id) => {
        const user = users.get(id);
        if (!user) return undefined;
        return { accountId: id, claims: async () => ({ sub: id, name: user.name ?? id, tenant: user.tenant }) };
      },
      // The signing key first (ID tokens take the first ES256 key), then the retired ones, then the dev key.
      jwks: { keys: [signing.jwk, ...keys.filter((k) => k !== signing).map((k) => k.jwk), dev] },
      clientDefaults: { id_token_signed_response_alg: "ES256" },
      cookies: { keys: cookieKeys },
      pkce: { required: () => true },
      ttl: {
        AccessToken: ttlS,
        ClientCredentials: ttlS,
        AuthorizationCode: 60,
        Interaction: 600,
        Session: 3600,
        // A person's refresh token lives no longer than their IdP session: the workbench refreshes silently within it.
        RefreshToken: 3600,
      },
      // The public client (the workbench) gets a refresh token with its code, so it can renew its access token before
      // it expires without sending the person back to the login page (rotated on every use, as for any public
      // client). Machine clients have no refresh token: they ask again with their credentials.
      issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      // A public client's page (the workbench) may call the token endpoint from any loopback port of a redirect
      // URI's host, as its redirect URIs may use any port (RFC 8252 §7.3); confidential clients get no CORS.
      clientBasedCORS: (_ctx, origin, client) => {
        if (client.clientAuthMethod !== "none" || !URL.canParse(origin)) return false;
        const from = new URL(origin);
        return (client.redirectUris ?? []).some((uri) => {
          const to = URL.parse(uri);
          return to !== null && to.protocol === from.protocol && to.hostname === from.hostname;
        });
      },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        // RFC 7009: the workbench revokes its refresh token when a person signs out.
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => resource,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, indicator) => {
            if (indicator !== resource) throw new errors.InvalidTarget();
            return {
              scope: RESOURCE_SCOPES.join(" "),
              audience,
              accessTokenTTL: ttlS,
              accessTokenFormat: "jwt",
              jwt: { sign: { alg: "ES256", kid: signing.kid } },
            };
          },
        },
      },
      // The `tenant` claim (src/auth/jwt.ts): a person's from users.json, a machine client's from clients.json.
      extraTokenClaims: async (_ctx, token) => {
        const accountId = /** @type {{ accountId?: string }} */ (token).accountId;
        if (accountId) return { tenant: users.get(accountId)?.tenant };
        const clientId = /** @type {{ clientId?: string }} */ (token).clientId;
        const tenant = clientId ? clients.get(clientId)?.tenant : undefined;
        return tenant ? { tenant } : undefined;
      },
    });
    provider.on("server_error", (_ctx, err) => log(`server_error: ${err instanceof Error ? err.message : err}`));
    return { provider, handle: provider.callback(), signingKid: signing.kid };
  }

  let loadedMtime = 0;
  /** @type {ReturnType<typeof buildProvider> | null} */
  let current = null;
  /** The provider for the current keys file (rebuilt when `npm run idp -- rotate` changed it). */
  async function providerNow() {
    const file = keysFile(dir);
    const mtime = existsSync(file) ? statSync(file).mtimeMs : 0;
    if (current && mtime === loadedMtime) return current;
    const keys = publishedKeys(await loadKeys(dir), Math.floor(Date.now() / 1000), ttlS);
    loadedMtime = existsSync(file) ? statSync(file).mtimeMs : 0;
    const previous = current?.signingKid;
    current = buildProvider(keys);
    if (previous !== current.signingKid) {
      log(`signing key ${current.signingKid}; published: ${keys.map((k) => k.kid).join(", ")} + dev ${dev.kid}`);
    }
    return current;
  }

  /**
   * A client_credentials request that names no scope gets the client's registered scopes (RFC 6749 §3.3 lets
   * the server apply a default): the Worker refuses a token without `scope`.
   * @param {import("node:http").IncomingMessage} req
   */
  async function withDefaultScope(req) {
    const body = await readBody(req);
    const params = new URLSearchParams(body.toString("utf8"));
    let out = body;
    if (params.get("grant_type") === "client_credentials" && !params.has("scope")) {
      let id = params.get("client_id");
      const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? "");
      if (!id && basic?.[1])
        id = decodeURIComponent(Buffer.from(basic[1], "base64").toString("utf8").split(":")[0] ?? "");
      const scope = id ? clients.get(id)?.scope : undefined;
      if (scope) {
        params.set("scope", scope);
        out = Buffer.from(params.toString());
      }
    }
    // The provider reads the body from the request stream: hand it a stream with the (rewritten) body.
    const replay = Object.assign(Readable.from([out]), {
      headers: { ...req.headers, "content-length": String(out.length) },
      rawHeaders: [],
      method: req.method,
      url: req.url,
      httpVersion: req.httpVersion,
      socket: req.socket,
      connection: req.socket,
    });
    return /** @type {import("node:http").IncomingMessage} */ (/** @type {unknown} */ (replay));
  }

  /** @param {import("node:http").ServerResponse} res @param {number} status @param {string} title @param {string} body */
  function page(res, status, title, body) {
    res.writeHead(status, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      // No form-action: browsers apply it to the redirects after a form, and consent ends at the client's URI.
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    });
    res.end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${html(title)}</title>` +
        `<style>body{font:16px system-ui;max-width:28rem;margin:3rem auto}label,input,button{display:block;margin:.4rem 0}` +
        `input{width:100%;padding:.3rem}.err{color:#b00}</style></head><body><h1>${html(title)}</h1>${body}</body></html>`,
    );
  }

  /**
   * The login and consent pages (`/interaction/:uid`, what `interactions.url` points the provider to).
   * @param {ReturnType<typeof buildProvider>["provider"]} provider
   * @param {import("node:http").IncomingMessage} req
   * @param {import("node:http").ServerResponse} res
   * @param {string[]} parts
   */
  async function interaction(provider, req, res, parts) {
    const [uid = "", action = ""] = parts;
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new errors.InvalidRequest("interaction mismatch");
    const clientId = String(details.params.client_id ?? "");
    if (req.method === "GET" && action === "") {
      if (details.prompt.name === "login") {
        const demo = [...users.values()]
          .map(
            (u) =>
              `<li><code>${html(u.login)}</code> / <code>${html(u.password)}</code>: tenant ${html(u.tenant)}</li>`,
          )
          .join("");
        return page(
          res,
          200,
          "Sign in",
          `<p>to <b>${html(clientId)}</b> (coherence dev IdP)</p>` +
            `<form method="post" action="/interaction/${html(uid)}/login">` +
            `<label>Login<input name="login" id="login" autocomplete="username" required></label>` +
            `<label>Password<input name="password" id="password" type="password" autocomplete="current-password" required></label>` +
            `<button type="submit" id="sign-in">Sign in</button></form>` +
            `<p>Demo people (idp/users.json):</p><ul>${demo}</ul>`,
        );
      }
      const accountId = details.session?.accountId ?? "";
      const user = users.get(accountId);
      const granted = grantableScopes(details, user);
      return page(
        res,
        200,
        "Allow access",
        `<p><b>${html(clientId)}</b> asks to act for <b>${html(user?.name ?? accountId)}</b> ` +
          `(tenant <code>${html(user?.tenant ?? "?")}</code>) with: <code id="scopes">${html(granted.join(" ") || "(no scope)")}</code></p>` +
          `<form method="post" action="/interaction/${html(uid)}/confirm"><button type="submit" id="allow">Allow</button></form>` +
          `<form method="post" action="/interaction/${html(uid)}/abort"><button type="submit" id="deny">Deny</button></form>`,
      );
    }
    if (req.method !== "POST") throw new errors.InvalidRequest("unsupported interaction request");
    const form = new URLSearchParams((await readBody(req)).toString("utf8"));
    if (action === "login") {
      const user = users.get(form.get("login") ?? "");
      if (!user || !sameSecret(form.get("password") ?? "", user.password)) {
        return page(
          res,
          200,
          "Sign in",
          `<p class="err" id="error">Unknown login or wrong password.</p><p><a href="/interaction/${html(uid)}">Try again</a></p>`,
        );
      }
      return provider.interactionFinished(
        req,
        res,
        { login: { accountId: user.login } },
        { mergeWithLastSubmission: false },
      );
    }
    if (action === "confirm") {
      const accountId = details.session?.accountId;
      if (!accountId) throw new errors.InvalidRequest("no signed-in account");
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId, clientId });
      if (!grant) throw new errors.InvalidRequest("grant not found");
      const missing = /** @type {{ missingOIDCScope?: string[]; missingOIDCClaims?: string[] }} */ (
        details.prompt.details
      );
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      // Resource scopes: only those the person holds (users.json), whatever the client asked for; the others are
      // rejected (so the token goes without them instead of the consent page asking again).
      const user = users.get(accountId);
      const scopes = grantableScopes(details, user);
      const asked = /** @type {Record<string, string[]> | undefined} */ (details.prompt.details.missingResourceScopes);
      const refused = (asked?.[resource] ?? []).filter((s) => !scopes.includes(s));
      if (scopes.length > 0) grant.addResourceScope(resource, scopes.join(" "));
      if (refused.length > 0) grant.rejectResourceScope(resource, refused.join(" "));
      const grantId = await grant.save();
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    if (action === "abort") {
      return provider.interactionFinished(
        req,
        res,
        { error: "access_denied", error_description: "the person denied access" },
        { mergeWithLastSubmission: false },
      );
    }
    throw new errors.InvalidRequest("unknown interaction action");
  }

  /**
   * The resource scopes a consent grants: those the client asked for that the person holds.
   * @param {{ prompt: { details: Record<string, unknown> } }} details
   * @param {DemoUser | undefined} user
   */
  function grantableScopes(details, user) {
    const asked = /** @type {Record<string, string[]> | undefined} */ (details.prompt.details.missingResourceScopes);
    const wanted = asked?.[resource] ?? [];
    return wanted.filter((s) => user?.scopes.includes(s));
  }

  server.on("request", async (req, res) => {
    try {
      const { provider, handle } = await providerNow();
      const path = new URL(req.url ?? "/", issuer).pathname;
      if (path.startsWith("/interaction/")) {
        await interaction(provider, req, res, path.slice("/interaction/".length).split("/"));
        return;
      }
      const form = /^application\/x-www-form-urlencoded/i.test(req.headers["content-type"] ?? "");
      handle(req.method === "POST" && path === "/token" && form ? await withDefaultScope(req) : req, res);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) {
        const status = err instanceof errors.OIDCProviderError ? err.statusCode : 500;
        if (status >= 500) log(`request failed: ${message}`);
        page(res, status, "Error", `<p class="err">${html(message)}</p>`);
      } else {
        res.destroy();
      }
    }
  });
  await providerNow();
  log(`OpenID Provider at ${issuer} (audience ${audience}, keys in ${dir}; sessions and grants in memory: dev only)`);
  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    audience,
    port,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      }),
  };
}
