import {
  type CryptoKey,
  createRemoteJWKSet,
  importSPKI,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from "jose";
import { z } from "zod";
import type { Config } from "../config";
import type { Principal } from "./principal";

/** Clock-skew leeway for `exp` and `nbf` (contract §1: at most 5 s). */
export const CLOCK_TOLERANCE_S = 5;
/** Only asymmetric algorithms: `none` and HMAC are refused by construction. */
const ALLOWED_ALGS = ["RS256", "ES256"] as const;

const claimsSchema = z.object({
  tenant: z.string().min(1).max(128),
  scope: z.union([z.string(), z.array(z.string())]),
  sub: z.string().optional(),
});

/** Why a token was refused; mapped to 401 by the caller. Never carries the token itself. */
export class TokenError extends Error {}

type KeySource = { kind: "pem"; key: CryptoKey; alg: string } | { kind: "jwks"; getKey: JWTVerifyGetKey };

// Imported keys and JWKS fetchers are reused across requests of an isolate; keyed by their settings.
const pemKeys = new Map<string, Promise<{ key: CryptoKey; alg: string }>>();
const jwksSets = new Map<string, JWTVerifyGetKey>();

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

async function keySource(config: Config): Promise<KeySource | null> {
  const { publicKeyPem, jwksUrl } = config.jwt;
  if (publicKeyPem) {
    let pending = pemKeys.get(publicKeyPem);
    if (!pending) {
      pending = importPem(publicKeyPem);
      pemKeys.set(publicKeyPem, pending);
      pending.catch(() => pemKeys.delete(publicKeyPem));
    }
    return { kind: "pem", ...(await pending) };
  }
  if (jwksUrl) {
    let getKey = jwksSets.get(jwksUrl);
    if (!getKey) {
      getKey = createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
      jwksSets.set(jwksUrl, getKey);
    }
    return { kind: "jwks", getKey };
  }
  return null;
}

/** Extracts the bearer token from an `Authorization` header value, or `null`. */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}

/** Verified tokens of this isolate, per config: a hit skips the signature check, never the time checks. */
const verifiedTokens = new WeakMap<Config, Map<string, { principal: Principal; exp: number; nbf: number }>>();
const VERIFIED_CACHE_MAX = 10_000;

/**
 * Verifies a JWT (RS256/ES256, `exp` required, `iss`/`aud` when configured) and returns its principal.
 * A token seen before with the same settings is not re-verified cryptographically (the signature cannot
 * have changed), but `exp` and `nbf` are checked again against the clock on every call.
 * @throws TokenError for every kind of refusal.
 */
export async function verifyToken(token: string, config: Config): Promise<Principal> {
  let cache = verifiedTokens.get(config);
  if (!cache) {
    cache = new Map();
    verifiedTokens.set(config, cache);
  }
  const nowS = Date.now() / 1000;
  const hit = cache.get(token);
  if (hit) {
    if (nowS - CLOCK_TOLERANCE_S >= hit.exp) throw new TokenError("ERR_JWT_EXPIRED");
    if (nowS + CLOCK_TOLERANCE_S < hit.nbf) throw new TokenError("ERR_JWT_CLAIM_VALIDATION_FAILED");
    return hit.principal;
  }
  const { principal, exp, nbf } = await verifyUncached(token, config);
  if (cache.size >= VERIFIED_CACHE_MAX) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(token, { principal, exp, nbf });
  return principal;
}

async function verifyUncached(
  token: string,
  config: Config,
): Promise<{ principal: Principal; exp: number; nbf: number }> {
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
  try {
    const result =
      source.kind === "pem"
        ? await jwtVerify(token, source.key, options)
        : await jwtVerify(token, source.getKey, options);
    payload = result.payload;
  } catch (err) {
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
      subject: claims.data.sub ?? null,
    },
    exp: typeof times.exp === "number" ? times.exp : 0,
    nbf: typeof times.nbf === "number" ? times.nbf : 0,
  };
}
