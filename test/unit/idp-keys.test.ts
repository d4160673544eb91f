// The dev IdP's signing keys (scripts/lib/idp.mjs): `npm run idp -- rotate` adds a signing key, keeps the retired
// one published while tokens it signed may still be valid, and drops it after; a fresh folder gets one key. And
// when `npm start` runs the IdP at all.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { idpWanted, loadKeys, publishedKeys, rotateKeys } from "../../scripts/lib/idp.mjs";

const TTL_S = 600;
const fresh = () => mkdtempSync(join(tmpdir(), "idp-keys-"));
const nowS = () => Math.floor(Date.now() / 1000);

describe("dev IdP keys", () => {
  it("creates one private ES256 signing key in a fresh folder, and the same one on the next load", async () => {
    const dir = fresh();
    const [key, ...rest] = await loadKeys(dir);
    expect(rest).toEqual([]);
    expect(key).toMatchObject({ retiredAt: null, jwk: { kty: "EC", crv: "P-256", alg: "ES256", use: "sig" } });
    expect(key?.jwk).toHaveProperty("d");
    expect(key?.jwk.kid).toBe(key?.kid);
    expect((await loadKeys(dir)).map((k) => k.kid)).toEqual([key?.kid]);
  });

  it("rotates: the new key signs first, the old one stays published until its tokens have expired", async () => {
    const dir = fresh();
    const [first] = await loadKeys(dir);
    const result = await rotateKeys(dir, TTL_S);
    expect(result.kid).not.toBe(first?.kid);
    const keys = await loadKeys(dir);
    expect(keys.map((k) => k.kid)).toEqual([result.kid, first?.kid]);
    expect(keys[0]?.retiredAt).toBeNull();
    const retiredAt = keys[1]?.retiredAt ?? 0;
    expect(Math.abs(retiredAt - nowS())).toBeLessThanOrEqual(2);
    // Published through the token lifetime (plus a minute of skew), gone after.
    expect(publishedKeys(keys, retiredAt + TTL_S, TTL_S).map((k) => k.kid)).toEqual([result.kid, first?.kid]);
    expect(publishedKeys(keys, retiredAt + TTL_S + 61, TTL_S).map((k) => k.kid)).toEqual([result.kid]);
  });

  it("drops keys retired longer ago than a token lives at the next rotation", async () => {
    const dir = fresh();
    await loadKeys(dir);
    const file = join(dir, "keys.json");
    const stored = JSON.parse(readFileSync(file, "utf8")) as { keys: Array<{ kid: string; retiredAt: number | null }> };
    const old = { ...stored.keys[0], kid: "long-gone", retiredAt: nowS() - TTL_S - 3600 };
    writeFileSync(file, JSON.stringify({ keys: [...stored.keys, old] }));
    const result = await rotateKeys(dir, TTL_S);
    expect(result.dropped).toEqual(["long-gone"]);
    expect(result.published).toEqual([result.kid, stored.keys[0]?.kid]);
  });
});

describe("npm start runs the dev IdP", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("by default, and not with IDP=off", () => {
    vi.stubEnv("IDP", undefined);
    expect(idpWanted({})).toBe(true);
    vi.stubEnv("IDP", "off");
    expect(idpWanted({})).toBe(false);
    vi.stubEnv("IDP", "maybe");
    expect(() => idpWanted({})).toThrow(/IDP must be on or off/);
  });

  it("not when the Worker is given token keys of its own (a real IdP's JWKS, or a PEM)", () => {
    vi.stubEnv("IDP", "on");
    expect(idpWanted({ JWT_JWKS_URL: "https://idp.example/jwks" })).toBe(false);
    expect(idpWanted({ JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----" })).toBe(false);
    expect(idpWanted({ JWT_ISSUER: "https://idp.example/", JWT_PUBLIC_KEY: "" })).toBe(true);
  });
});
