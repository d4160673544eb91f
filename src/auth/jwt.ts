import {
  type CryptoKey,
  createLocalJWKSet,
  importSPKI,
  type JWSHeaderParameters,
  errors as joseErrors,
  jwtVerify,
} from "jose";
import { z } from "zod";
import type { Config } from "../config";
import { pseudonym } from "../telemetry/pseudonym";
import type { Principal } from "./principal";

/** Clock-skew leeway for `exp` and `nbf` (docs/api.md §2: at most 5 s). */
export const CLOCK_TOLERANCE_S = 5;
/** Only asymmetric algorithms: `none` and HMAC are refused by construction. */
const ALLOWED_ALGS = ["RS256", "ES256"] as const;

/**
 * How a `JWT_JWKS_URL` key set is cached (per URL, per isolate).
 *
 * - `cooldownMs` (5 s): the least time between a fetch and the next one that a token whose `kid` is not in the
 *   set may cause (rotation: the issuer signs with a key it has just published), and between a failed fetch and
 *   the retry. A rotated-in key is thus accepted at most 5 s after the previous fetch, while a flood of tokens
 *   with made-up `kid`s (or a JWKS endpoint that refuses connections) costs at most 12 fetches a minute per
 *   isolate. Shorter would buy little (issuers normally publish a key well before signing with it); longer
 *   makes an immediate rotation fail visibly.
 * - `maxAgeMs`: how long a fetched set is used before it is fetched again, which bounds how long a key removed
 *   from the JWKS is still accepted (tokens verified earlier included: see `verifyToken`). The JWKS response's
 *   `Cache-Control: max-age` decides, clamped to [`cooldownMs`, 10 min]; without one, 10 min (jose's default).
 *   The floor keeps an issuer's `no-cache` from turning into a fetch per request.
 * - A fetch gives up after 5 s and refuses a body over 64 KiB; redirects are not followed.
 * - A stale set is never used, not even while the JWKS is unreachable (no stale-if-error): refusing is the
 *   safe failure when the set may have dropped a compromised key.
 */
export const JWKS_CACHE = {
  cooldownMs: 5_000,
  defaultMaxAgeMs: 600_000,
  maxMaxAgeMs: 600_000,
  timeoutMs: 5_000,
  maxBytes: 64 * 1024,
} as const;

const claimsSchema = z.object({
  tenant: z.string().min(1).max(128),
  scope: z.union([z.string(), z.array(z.string())]),
  sub: z.string().optional(),
});

const jwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });

/** Why a token was refused; mapped to 401 by the caller. Never carries the token itself. */
export class TokenError extends Error {}

/** How long a fetched JWKS stays fresh, from its response's `Cache-Control` (see {@link JWKS_CACHE}). */
export function jwksMaxAgeMs(cacheControl: string | null): number {
  if (cacheControl === null) return JWKS_CACHE.defaultMaxAgeMs;
  const directives = cacheControl.toLowerCase();
  const maxAge = /(?:^|[,\s])max-age\s*=\s*"?(\d+)"?/.exec(directives);
  let ms: number = JWKS_CACHE.defaultMaxAgeMs;
  if (/(?:^|[,\s])(?:no-store|no-cache)(?:$|[,\s=])/.test(directives)) ms = 0;
  else if (maxAge?.[1] !== undefined) ms = Number(maxAge[1]) * 1000;
  return Math.min(JWKS_CACHE.maxMaxAgeMs, Math.max(JWKS_CACHE.cooldownMs, ms));
}

type JwksFetch = (url: string, init: RequestInit) => Promise<Response>;

/**
 * A remote JWKS with the caching policy of {@link JWKS_CACHE}. Keys are selected by `kid` (required: during a
 * rotation the set holds two keys of one type, and a token without `kid` would be ambiguous); only RSA and EC
 * members are kept, so a symmetric (`kty: oct`) member can never verify anything. Concurrent requests do not
 * share one in-flight fetch (as jose does on Workers: a promise tied to one request's I/O must not be awaited by
 * another), so until a first fetch has stored the set, each request that needs it fetches.
 */
export class RemoteKeySet {
  private lookup: ReturnType<typeof createLocalJWKSet> | null = null;
  private fetchedAt = 0;
  private maxAgeMs = 0;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private lastFailureAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly url: string,
    private readonly fetchImpl: JwksFetch = (u, init) => fetch(u, init),
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** The verification key for a token header; the same object for the same key until the set is fetched again. */
  async key(header: JWSHeaderParameters): Promise<CryptoKey> {
    if (typeof header.kid !== "string" || header.kid.length === 0) {
      throw new TokenError("token has no kid; JWT_JWKS_URL keys are selected by kid");
    }
    const now = this.now();
    if (!this.lookup || now >= this.fetchedAt + this.maxAgeMs) {
      // Stale: a removed key must stop counting, so a stale set is never used. After a failure, wait out the cooldown.
      if (now < this.lastFailureAt + JWKS_CACHE.cooldownMs) throw new TokenError("JWKS unavailable");
      await this.refresh();
    }
    const key = await this.select(header);
    if (key) return key;
    if (this.now() < this.lastAttemptAt + JWKS_CACHE.cooldownMs) throw new TokenError("no JWKS key has this kid");
    await this.refresh();
    const rotated = await this.select(header);
    if (!rotated) throw new TokenError("no JWKS key has this kid");
    return rotated;
  }

  /** The key the current set holds for `header`, or `null` when it holds none. */
  private async select(header: JWSHeaderParameters): Promise<CryptoKey | null> {
    if (!this.lookup) throw new TokenError("JWKS unavailable");
    let key: CryptoKey;
    try {
      key = await this.lookup(header);
    } catch (err) {
      if (err instanceof joseErrors.JWKSNoMatchingKey) return null;
      throw new TokenError(err instanceof joseErrors.JOSEError ? err.code : "JWKS key could not be used");
    }
    if (key.type !== "public") throw new TokenError("JWKS member is not a public key");
    return key;
  }

  private async refresh(): Promise<void> {
    this.lastAttemptAt = this.now();
    try {
      const res = await this.fetchImpl(this.url, {
        headers: { accept: "application/jwk-set+json, application/json" },
        redirect: "manual",
        signal: AbortSignal.timeout(JWKS_CACHE.timeoutMs),
      });
      if (res.status !== 200) throw new Error(`JWKS answered ${res.status}`);
      const text = await res.text();
      if (text.length > JWKS_CACHE.maxBytes) throw new Error("JWKS is too large");
      const parsed = jwksSchema.parse(JSON.parse(text));
      const keys = parsed.keys.filter((k) => k.kty === "RSA" || k.kty === "EC");
      this.lookup = createLocalJWKSet({ keys: keys as unknown as Parameters<typeof createLocalJWKSet>[0]["keys"] });
      this.fetchedAt = this.now();
      this.maxAgeMs = jwksMaxAgeMs(res.headers.get("cache-control"));
    } catch {
      this.lastFailureAt = this.now();
      throw new TokenError("JWKS could not be fetched");
    }
  }
}

type KeySource = { kind: "pem"; key: CryptoKey; alg: string } | { kind: "jwks"; set: RemoteKeySet };

// Imported keys and JWKS sets are reused across requests of an isolate; keyed by their settings. Only settled
// values are shared: a promise created in one request must not be awaited by another (workerd cancels it).
const pemKeys = new Map<string, { key: CryptoKey; alg: string }>();
const jwksSets = new Map<string, RemoteKeySet>();

async function importPem(pem: string): Promise<{ key: CryptoKey; alg: string }> {
  for (const alg of ALLOWED_ALGS) {
    try {
      return { key: await importSPKI(pem, alg), alg };
    } catch {
      // Not this key type; try the next algorithm.
    }
  }
  throw new TokenError("JWT_PUBLIC_KEY is not an RSA or P-256 public key");
}

function isLoopback(url: URL): boolean {
  return url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]";
}

async function keySource(config: Config): Promise<KeySource | null> {
  const { publicKeyPem, jwksUrl } = config.jwt;
  if (publicKeyPem) {
    let imported = pemKeys.get(publicKeyPem);
    if (!imported) {
      imported = await importPem(publicKeyPem);
      pemKeys.set(publicKeyPem, imported);
    }
    return { kind: "pem", ...imported };
  }
  if (jwksUrl) {
    let set = jwksSets.get(jwksUrl);
    if (!set) {
      const url = new URL(jwksUrl);
      // Keys fetched in clear text could be swapped in transit; plain http only for a JWKS on this machine.
      if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url))) {
        throw new TokenError("JWT_JWKS_URL must use https");
      }
      set = new RemoteKeySet(url.href);
      jwksSets.set(jwksUrl, set);
    }
    return { kind: "jwks", set };
  }
  return null;
}

/** Extracts the bearer token from an `Authorization` header value, or `null`. */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}

interface Verified {
  principal: Principal;
  exp: number;
  nbf: number;
  /** JWKS only: the header and the key that verified the token, to notice a key removed or replaced since. */
  header: JWSHeaderParameters | null;
  key: CryptoKey | null;
}

/** Verified tokens of this isolate, per config: a hit skips the signature check, never the time checks. */
const verifiedTokens = new WeakMap<Config, Map<string, Verified>>();
const VERIFIED_CACHE_MAX = 10_000;

/**
 * Verifies a JWT (RS256/ES256, `exp` required, `iss`/`aud` when configured) and returns its principal.
 * A token seen before with the same settings is not re-verified cryptographically (the signature cannot
 * have changed), but `exp` and `nbf` are checked again against the clock on every call, and with a JWKS the
 * token's key must still be the one in the current set (a removed key stops counting for cached tokens too).
 * @throws TokenError for every kind of refusal.
 */
export async function verifyToken(token: string, config: Config): Promise<Principal> {
  let cache = verifiedTokens.get(config);
  if (!cache) {
    cache = new Map();
    verifiedTokens.set(config, cache);
  }
  const nowS = Date.now() / 1000;
  const hit = config.layersOff.has("token-cache") ? undefined : cache.get(token);
  if (hit) {
    if (nowS - CLOCK_TOLERANCE_S >= hit.exp) throw new TokenError("ERR_JWT_EXPIRED");
    if (nowS + CLOCK_TOLERANCE_S < hit.nbf) throw new TokenError("ERR_JWT_CLAIM_VALIDATION_FAILED");
    if (!hit.header) return hit.principal;
    const source = await keySource(config);
    const current = source?.kind === "jwks" ? await source.set.key(hit.header).catch(() => null) : null;
    if (current !== null && current === hit.key) return hit.principal;
    cache.delete(token); // the set was fetched again since: verify in full against the current keys
  }
  const verified = await verifyUncached(token, config);
  if (cache.size >= VERIFIED_CACHE_MAX) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(token, verified);
  return verified.principal;
}

async function verifyUncached(token: string, config: Config): Promise<Verified> {
  const source = await keySource(config);
  if (!source) throw new TokenError("no verification key is configured");
  const options = {
    algorithms: source.kind === "pem" ? [source.alg] : [...ALLOWED_ALGS],
    clockTolerance: CLOCK_TOLERANCE_S,
    requiredClaims: ["exp"],
    ...(config.jwt.issuer ? { issuer: config.jwt.issuer } : {}),
    ...(config.jwt.audience ? { audience: config.jwt.audience } : {}),
  };
  let payload: unknown;
  let header: JWSHeaderParameters | null = null;
  let key: CryptoKey | null = null;
  try {
    const result =
      source.kind === "pem"
        ? await jwtVerify(token, source.key, options)
        : await jwtVerify(
            token,
            async (h: JWSHeaderParameters) => {
              key = await source.set.key(h);
              return key;
            },
            options,
          );
    payload = result.payload;
    if (source.kind === "jwks") header = result.protectedHeader;
  } catch (err) {
    if (err instanceof TokenError) throw err;
    if (err instanceof joseErrors.JOSEError) throw new TokenError(err.code);
    throw new TokenError("token could not be verified");
  }
  const claims = claimsSchema.safeParse(payload);
  const times = payload as { exp?: number; nbf?: number };
  if (!claims.success) throw new TokenError("token lacks tenant or scope claims");
  const scopes = typeof claims.data.scope === "string" ? claims.data.scope.split(/\s+/) : claims.data.scope;
  return {
    principal: {
      tenant: claims.data.tenant,
      scopes: new Set(scopes.filter((s) => s.length > 0)),
      subjectHash: claims.data.sub ? await pseudonym(config.logHashKey, claims.data.sub) : null,
    },
    exp: typeof times.exp === "number" ? times.exp : 0,
    nbf: typeof times.nbf === "number" ? times.nbf : 0,
    header,
    key,
  };
}
