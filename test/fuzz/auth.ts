// Credentials as data for the fuzz cases (docs/api.md §2): tokens are named by role and filled in when a case is
// sent, so a failing case prints and replays without secrets; spoiled tokens say exactly how they were spoiled.
import fc from "fast-check";

/**
 * Whose token a case uses, relative to the tenant under test: `write` (read+write), `read`, `foreign` (another
 * tenant, read+write), `operator` (tenant `*`, finops+metrics), `noscope` (the tenant, `finops:read` only).
 */
export type TokenRole = "write" | "read" | "foreign" | "operator" | "noscope";
export type Tokens = Record<TokenRole, string>;
const ROLES: TokenRole[] = ["write", "read", "foreign", "operator", "noscope"];

/** Ways to spoil a valid token; each one makes it fail verification for sure. */
export type Mangle =
  | "flip-signature"
  | "drop-signature"
  | "swap-payload"
  | "alg-none"
  | "alg-hs256"
  | "extra-segment"
  | "truncate"
  | "flip-payload-case"
  | "insert-space";
const MANGLES: Mangle[] = [
  "flip-signature",
  "drop-signature",
  "swap-payload",
  "alg-none",
  "alg-hs256",
  "extra-segment",
  "truncate",
  "flip-payload-case",
  "insert-space",
];

/** An `Authorization` header (or a `connection_init` authorization) as data. Only `token` is a valid credential. */
export type AuthSpec =
  | { kind: "none" }
  | { kind: "token"; role: TokenRole; scheme: string; gap: string }
  | { kind: "mangled"; role: TokenRole; mangle: Mangle; at: number }
  | { kind: "prefix"; role: TokenRole; prefix: string }
  | { kind: "raw"; value: string };

const b64url = (s: string) => Buffer.from(s, "utf8").toString("base64url");

/** A token spoiled as `mangle` says; `at` picks the position where one is needed. */
export function mangleToken(token: string, mangle: Mangle, at: number): string {
  const [h = "", p = "", s = ""] = token.split(".");
  const pick = (len: number) => 1 + (at % Math.max(1, len - 2)); // never the first or last character
  switch (mangle) {
    case "flip-signature": {
      const i = pick(s.length);
      return `${h}.${p}.${s.slice(0, i)}${s[i] === "A" ? "B" : "A"}${s.slice(i + 1)}`;
    }
    case "drop-signature":
      return `${h}.${p}.`;
    case "swap-payload":
      return `${h}.${b64url(JSON.stringify({ tenant: "*", scope: "coherence:read coherence:write", exp: 4102444800 }))}.${s}`;
    case "alg-none":
      return `${b64url('{"alg":"none","typ":"JWT"}')}.${p}.`;
    case "alg-hs256":
      return `${b64url('{"alg":"HS256","typ":"JWT"}')}.${p}.${b64url("k".repeat(32))}`;
    case "extra-segment":
      return `${token}.${p}`;
    case "truncate":
      return token.slice(0, pick(token.length));
    case "flip-payload-case": {
      const letters = [...p].flatMap((c, i) => (/[a-zA-Z]/.test(c) && i > 0 && i < p.length - 1 ? [i] : []));
      const i = letters[at % Math.max(1, letters.length)] ?? 1;
      const c = p[i] ?? "a";
      const flipped = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
      return `${h}.${p.slice(0, i)}${flipped}${p.slice(i + 1)}.${s}`;
    }
    case "insert-space": {
      const i = pick(token.length);
      return `${token.slice(0, i)} ${token.slice(i)}`;
    }
  }
}

/** The header value an {@link AuthSpec} stands for (`undefined`: no header at all). */
export function authValue(spec: AuthSpec, tokens: Tokens): string | undefined {
  switch (spec.kind) {
    case "none":
      return undefined;
    case "token":
      return `${spec.scheme}${spec.gap}${tokens[spec.role]}`;
    case "mangled":
      return `Bearer ${mangleToken(tokens[spec.role], spec.mangle, spec.at)}`;
    case "prefix":
      return `${spec.prefix}${tokens[spec.role]}`;
    case "raw":
      return spec.value;
  }
}

/** The role of a credential the service must accept, or `null` when it must answer 401 / close 4401. */
export function validRole(spec: AuthSpec): TokenRole | null {
  return spec.kind === "token" ? spec.role : null;
}

/** Header values `fetch` can carry: tab, 0x20–0x7E and 0x80–0xFF (undici refuses control characters before sending). */
export const headerSafe = (s: string) =>
  [...s]
    .filter((c) => {
      const n = c.codePointAt(0) ?? 0;
      return n === 0x09 || (n >= 0x20 && n !== 0x7f && n <= 0xff);
    })
    .join("");

const fakeJwt = fc
  .tuple(fc.base64String({ maxLength: 40 }), fc.base64String({ maxLength: 80 }), fc.base64String({ maxLength: 90 }))
  .map(([a, b, c]) => `eyJ${a}.eyJ${b}.${c}`.replace(/[+/=]/g, "_"));

const rawAuth: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("", "Bearer", "Bearer ", "Bearer  ", "Bearer null", "Bearer undefined", "Basic Zm9vOmJhcg==", "."),
  fc.constantFrom("Bearer ..", "Bearer eyJ.eyJ.", "Bearer a.b.c", "Negotiate x", "Bearer \u00a0", "Bearer %00"),
  fakeJwt.map((t) => `Bearer ${t}`),
  fc.string({ unit: "binary-ascii", maxLength: 80 }).map(headerSafe),
  fc.constantFrom(1024, 8 * 1024, 15 * 1024).map((n) => `Bearer ${"A".repeat(n)}`),
);

export const authArb: fc.Arbitrary<AuthSpec> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<AuthSpec>({ kind: "none" }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("token" as const),
      role: fc.constantFrom(...ROLES),
      scheme: fc.constantFrom("Bearer", "bearer", "BEARER", "bEaReR"),
      gap: fc.constantFrom(" ", "  ", "    "),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("mangled" as const),
      role: fc.constantFrom(...ROLES),
      mangle: fc.constantFrom(...MANGLES),
      at: fc.nat(10_000),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("prefix" as const),
      role: fc.constantFrom(...ROLES),
      prefix: fc.constantFrom("", "Bearer", "Bearer\t", "Bearer:", "Bearer\u00a0", "Basic ", "Token ", "JWT ", "DPoP "),
    }),
  },
  { weight: 2, arbitrary: rawAuth.map((value): AuthSpec => ({ kind: "raw", value })) },
);

/** A valid credential of `role` in the plain form. */
export const tokenAuth = (role: TokenRole): AuthSpec => ({ kind: "token", role, scheme: "Bearer", gap: " " });
