// Where the bearer token comes from: a static string, the caller's `getToken()`, or OAuth 2.0 client credentials
// (oauth4webapi) refreshed before they expire. The service accepts a write only with a token for the signals'
// tenant (docs/api.md §2), so every request names its tenant and a provider may answer per tenant.
import * as oauth from "oauth4webapi";
import { CoherenceError } from "./errors.ts";

export interface TokenRequest {
  /** The tenant the request is for (null: not tenant-bound). */
  tenantId: string | null;
  /** The service refused the last token (401): do not hand out the same one again. */
  refresh: boolean;
}

/** A `getToken()` callback: called before every request, so it should cache. */
export type GetToken = (request: TokenRequest) => string | Promise<string>;

export interface TokenProvider {
  token(request: TokenRequest): Promise<string>;
  /** Whether asking again after a 401 can give a different token (so a 401 is worth one more try). */
  readonly refreshable: boolean;
}

/** What the client's `token` option accepts. */
export type TokenOption = string | GetToken | TokenProvider;

/** A provider from the `token` option. */
export function tokenProvider(option: TokenOption): TokenProvider {
  if (typeof option === "string") {
    return { refreshable: false, token: async () => option };
  }
  if (typeof option === "function") {
    return { refreshable: true, token: async (request) => option(request) };
  }
  return option;
}

export interface ClientCredentialsOptions {
  /** The authorization server's issuer identifier; its metadata is discovered (`/.well-known/openid-configuration`). */
  issuer: string;
  /** Skip discovery and post to this token endpoint. */
  tokenEndpoint?: string;
  clientId: string;
  clientSecret: string;
  /** How the client authenticates at the token endpoint (default `client_secret_basic`). */
  authMethod?: "client_secret_basic" | "client_secret_post";
  /** Space-separated scopes to ask for (e.g. `coherence:write`); omitted: the client's default. */
  scope?: string;
  /** RFC 8707 resource indicator (the API's audience), when the server issues audience-bound JWTs that way. */
  resource?: string;
  /** Fetch a new token this long before the current one expires (default: 60 s, or a tenth of its life if shorter). */
  refreshBeforeMs?: number;
  /** Lifetime assumed when the token endpoint sends no `expires_in` (default 300 s). */
  defaultLifetimeMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

function isLoopback(url: URL): boolean {
  return url.hostname === "localhost" || url.hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
}

/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4) with oauth4webapi: one token at a time, fetched on first use and again
 * shortly before it expires, or at once when the service refused it. Concurrent callers share one token request.
 * Plain http is allowed only on loopback (a local dev IdP).
 */
export function clientCredentials(opts: ClientCredentialsOptions): TokenProvider {
  const now = opts.now ?? Date.now;
  const issuer = new URL(opts.issuer);
  const insecure = issuer.protocol === "http:" && isLoopback(issuer);
  const httpOptions = {
    ...(opts.fetch ? { [oauth.customFetch]: opts.fetch } : {}),
    ...(insecure ? { [oauth.allowInsecureRequests]: true } : {}),
  };
  const client: oauth.Client = { client_id: opts.clientId };
  const auth =
    opts.authMethod === "client_secret_post"
      ? oauth.ClientSecretPost(opts.clientSecret)
      : oauth.ClientSecretBasic(opts.clientSecret);
  let server: oauth.AuthorizationServer | null = opts.tokenEndpoint
    ? { issuer: issuer.href.replace(/\/$/, ""), token_endpoint: opts.tokenEndpoint }
    : null;
  let current: { token: string; refreshAt: number } | null = null;
  let pending: Promise<string> | null = null;

  const authorizationServer = async (): Promise<oauth.AuthorizationServer> => {
    if (server) return server;
    const res = await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...httpOptions });
    server = await oauth.processDiscoveryResponse(issuer, res);
    return server;
  };

  const fetchToken = async (): Promise<string> => {
    const as = await authorizationServer();
    const params = new URLSearchParams();
    if (opts.scope) params.set("scope", opts.scope);
    if (opts.resource) params.set("resource", opts.resource);
    const requestedAt = now();
    const res = await oauth.clientCredentialsGrantRequest(as, client, auth, params, httpOptions);
    const body = await oauth.processClientCredentialsResponse(as, client, res);
    const lifetime = typeof body.expires_in === "number" ? body.expires_in * 1000 : (opts.defaultLifetimeMs ?? 300_000);
    const early = opts.refreshBeforeMs ?? Math.min(60_000, lifetime / 10);
    current = { token: body.access_token, refreshAt: requestedAt + Math.max(0, lifetime - early) };
    return body.access_token;
  };

  return {
    refreshable: true,
    async token(request) {
      if (request.refresh) current = null;
      if (current && now() < current.refreshAt) return current.token;
      pending ??= fetchToken().finally(() => {
        pending = null;
      });
      try {
        return await pending;
      } catch (err) {
        // The server refusing the client (invalid_client, invalid_scope …) will refuse it again; anything else
        // (unreachable, 5xx) may pass later.
        const refused = err instanceof oauth.ResponseBodyError && err.status < 500;
        throw new CoherenceError("TOKEN_UNAVAILABLE", `client credentials: ${describe(err)}`, {
          retryable: !refused,
          cause: err,
        });
      }
    },
  };
}

function describe(err: unknown): string {
  if (err instanceof oauth.ResponseBodyError)
    return `${err.error}${err.error_description ? `: ${err.error_description}` : ""}`;
  return err instanceof Error ? err.message : String(err);
}

/** One provider per tenant (e.g. a client-credentials client each), for producers that write for several tenants. */
export function perTenant(providers: Record<string, TokenOption>, fallback?: TokenOption): TokenProvider {
  const byTenant = new Map(Object.entries(providers).map(([t, p]) => [t, tokenProvider(p)]));
  const rest = fallback === undefined ? null : tokenProvider(fallback);
  return {
    refreshable: [...byTenant.values()].some((p) => p.refreshable) || (rest?.refreshable ?? false),
    async token(request) {
      const provider = (request.tenantId === null ? undefined : byTenant.get(request.tenantId)) ?? rest;
      if (!provider) {
        throw new CoherenceError("TOKEN_UNAVAILABLE", `no token configured for tenant ${request.tenantId ?? "(none)"}`);
      }
      return provider.token(request);
    },
  };
}
