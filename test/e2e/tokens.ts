// Token crafting for the auth e2e tests (jwks.test.ts, isolation-matrix.test.ts): tokens signed in this process
// with jose (valid ones, and each kind of defect a verifier must refuse), without spawning `npm run token`.
import { createHmac, createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type CryptoKey, type JWK, SignJWT } from "jose";

const DEV_KEY_FILE = resolve(import.meta.dirname, "..", "..", ".dev", "dev-jwt-key.json");

export type Claims = Record<string, unknown>;
export type SigningKey = CryptoKey | KeyObject;

export const nowS = (): number => Math.floor(Date.now() / 1000);
const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Claims of a token valid for ten minutes: `tenant`, `scope`, `sub`, `iat`, `exp`, plus `extra` (which wins). */
export function claims(tenant: string, scope: string | string[], extra: Claims = {}): Claims {
  return { tenant, scope, sub: "e2e", iat: nowS(), exp: nowS() + 600, ...extra };
}

/** An RS256 or ES256 JWT over `payload`, with `kid` in the header unless it is `null`. */
export function signJwt(
  alg: "RS256" | "ES256",
  key: SigningKey,
  kid: string | null,
  payload: Claims,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg, typ: "JWT", ...(kid === null ? {} : { kid }), ...header })
    .sign(key);
}

/** An `alg: none` token: the header and payload, and an empty signature. */
export function unsignedJwt(payload: Claims, header: Record<string, unknown> = {}): string {
  return `${b64url({ alg: "none", typ: "JWT", ...header })}.${b64url(payload)}.`;
}

/** An HS256 token whose HMAC secret is `secret` (e.g. a public key's PEM: the classic key-confusion attack). */
export function hs256Jwt(payload: Claims, secret: string | Uint8Array, header: Record<string, unknown> = {}): string {
  const input = `${b64url({ alg: "HS256", typ: "JWT", ...header })}.${b64url(payload)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

/** The base64url-decoded header and payload of a compact JWT. */
export function decodeJwt(token: string): { header: Claims; payload: Claims } {
  const [h = "", p = ""] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(h, "base64url").toString()) as Claims,
    payload: JSON.parse(Buffer.from(p, "base64url").toString()) as Claims,
  };
}

/** The dev key pair `npm start` trusts by default (created by `npm start`/`npm run token` on first use). */
export interface DevKey {
  privateKey: KeyObject;
  publicPem: string;
  kid: string;
}

export function readDevKey(): DevKey {
  const raw = JSON.parse(readFileSync(DEV_KEY_FILE, "utf8")) as { privatePem: string; publicPem: string; kid: string };
  return { privateKey: createPrivateKey(raw.privatePem), publicPem: raw.publicPem, kid: raw.kid };
}

/** A fresh P-256 private key nobody trusts. */
export function foreignEcKey(): KeyObject {
  return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
}

/** A public JWK with `kid`, `alg` and `use: sig`, as an issuer publishes it. */
export function publishedJwk(jwk: JWK, kid: string, alg: "RS256" | "ES256"): JWK {
  return { ...jwk, kid, alg, use: "sig" };
}

/**
 * The ten token variants of the isolation matrix (the list). Each is a token for `principal` with
 * `scope` and one defect; the last two are well formed but aimed wrong. `iss`/`aud` are the service's settings.
 */
export const VARIANTS = [
  "no token",
  "bad signature",
  "expired",
  "not yet valid",
  "wrong aud",
  "wrong iss",
  "alg none",
  "HS256 with the public key as secret",
  "other tenant",
  "missing scope",
] as const;
export type Variant = (typeof VARIANTS)[number];

/** Variants that must be refused as unauthenticated (401 / 4401); the others are forbidden (403 / 4403). */
export const UNAUTHENTICATED_VARIANTS: ReadonlySet<Variant> = new Set(VARIANTS.slice(0, 8));

export interface VariantInputs {
  key: DevKey;
  iss: string;
  aud: string;
  /** The tenant claim a valid token for the target carries (`*` for operator endpoints). */
  principal: string;
  scope: string;
  /** "other tenant": who the token is for instead, with the same scope. */
  otherTenant: string;
  /** "missing scope": every scope but the one needed. */
  scopeWithoutNeeded: string;
}

/** Builds one variant's token (`undefined` for "no token"). */
export async function variantToken(v: Variant, i: VariantInputs): Promise<string | undefined> {
  const ok = (extra: Claims = {}, tenant = i.principal, scope = i.scope) =>
    claims(tenant, scope, { iss: i.iss, aud: i.aud, ...extra });
  const es256 = (payload: Claims, key: SigningKey = i.key.privateKey) => signJwt("ES256", key, i.key.kid, payload);
  switch (v) {
    case "no token":
      return undefined;
    case "bad signature":
      return es256(ok(), foreignEcKey());
    case "expired":
      return es256(ok({ iat: nowS() - 660, exp: nowS() - 60 }));
    case "not yet valid":
      return es256(ok({ nbf: nowS() + 120 }));
    case "wrong aud":
      return es256(ok({ aud: "someone-else" }));
    case "wrong iss":
      return es256(ok({ iss: "https://evil.example" }));
    case "alg none":
      return unsignedJwt(ok(), { kid: i.key.kid });
    case "HS256 with the public key as secret":
      return hs256Jwt(ok(), i.key.publicPem, { kid: i.key.kid });
    case "other tenant":
      return es256(ok({}, i.otherTenant));
    case "missing scope":
      return es256(ok({}, i.principal, i.scopeWithoutNeeded));
  }
}

/** A valid token for `tenant` with `scope`, signed with the dev key, for the service's `iss`/`aud`. */
export function validToken(key: DevKey, tenant: string, scope: string, iss: string, aud: string): Promise<string> {
  return signJwt("ES256", key.privateKey, key.kid, claims(tenant, scope, { iss, aud }));
}
