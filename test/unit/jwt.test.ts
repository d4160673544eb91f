import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { bearerToken, JWKS_CACHE, jwksMaxAgeMs, RemoteKeySet, TokenError, verifyToken } from "../../src/auth/jwt";
import { loadConfig } from "../../src/config";

const keys = await generateKeyPair("ES256", { extractable: true });
const config = loadConfig({ ENVIRONMENT: "test", JWT_PUBLIC_KEY: await exportSPKI(keys.publicKey) });

async function sign(claims: Record<string, unknown>, expInSeconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256" })
    .setExpirationTime(now + expInSeconds)
    .sign(keys.privateKey);
}

afterEach(() => {
  vi.useRealTimers();
});

describe("verifyToken", () => {
  it("returns the tenant and scopes of a valid token", async () => {
    const p = await verifyToken(await sign({ tenant: "acme", scope: "coherence:read finops:read" }, 60), config);
    expect(p.tenant).toBe("acme");
    expect([...p.scopes]).toEqual(["coherence:read", "finops:read"]);
  });

  it("keeps a keyed pseudonym of sub, never sub itself (logs carry the pseudonym)", async () => {
    const withSub = (key?: string) =>
      loadConfig({
        ENVIRONMENT: "test",
        JWT_PUBLIC_KEY: config.jwt.publicKeyPem as string,
        ...(key ? { LOG_HASH_KEY: key } : {}),
      });
    const token = await sign({ tenant: "acme", scope: "coherence:read", sub: "alice@example.com" }, 60);
    const a = await verifyToken(token, withSub("key-one"));
    expect(a.subjectHash).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(JSON.stringify({ ...a, scopes: [...a.scopes] })).not.toContain("alice");
    const again = await verifyToken(
      await sign({ tenant: "acme", scope: "x", sub: "alice@example.com" }, 60),
      withSub("key-one"),
    );
    expect(again.subjectHash).toBe(a.subjectHash);
    expect((await verifyToken(token, withSub("key-two"))).subjectHash).not.toBe(a.subjectHash);
    const noSub = await verifyToken(await sign({ tenant: "acme", scope: "coherence:read" }, 60), withSub("key-one"));
    expect(noSub.subjectHash).toBeNull();
  });

  it("refuses a cached token once it has expired (the cache never skips time checks)", async () => {
    vi.useFakeTimers({ now: Date.now() });
    const token = await sign({ tenant: "acme", scope: "coherence:read" }, 30);
    await verifyToken(token, config);
    vi.setSystemTime(Date.now() + 30_000 + 5_000 + 1_000);
    await expect(verifyToken(token, config)).rejects.toBeInstanceOf(TokenError);
  });

  it("allows 5 s of clock skew on exp, not more", async () => {
    vi.useFakeTimers({ now: Date.now() });
    const token = await sign({ tenant: "acme", scope: "coherence:read" }, 10);
    vi.setSystemTime(Date.now() + 13_000);
    await expect(verifyToken(token, config)).resolves.toBeDefined();
    vi.setSystemTime(Date.now() + 4_000);
    await expect(verifyToken(token, config)).rejects.toBeInstanceOf(TokenError);
  });

  it("refuses a token without tenant or scope claims", async () => {
    await expect(verifyToken(await sign({ scope: "coherence:read" }, 60), config)).rejects.toBeInstanceOf(TokenError);
  });

  it("refuses a token signed by another key", async () => {
    const other = await generateKeyPair("ES256");
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ tenant: "acme", scope: "coherence:read" })
      .setProtectedHeader({ alg: "ES256" })
      .setExpirationTime(now + 60)
      .sign(other.privateKey);
    await expect(verifyToken(forged, config)).rejects.toBeInstanceOf(TokenError);
  });
});

describe("bearerToken", () => {
  it("reads the token after Bearer and refuses other schemes", () => {
    expect(bearerToken("Bearer abc.def.ghi")).toBe("abc.def.ghi");
    expect(bearerToken("bearer abc")).toBe("abc");
    expect(bearerToken("Basic abc")).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});

describe("jwksMaxAgeMs", () => {
  it("follows Cache-Control max-age within [cooldown, 10 min], and 10 min without one", () => {
    expect(jwksMaxAgeMs(null)).toBe(600_000);
    expect(jwksMaxAgeMs("public, max-age=120")).toBe(120_000);
    expect(jwksMaxAgeMs("max-age=86400")).toBe(600_000);
    expect(jwksMaxAgeMs("max-age=1")).toBe(JWKS_CACHE.cooldownMs);
    expect(jwksMaxAgeMs("no-store")).toBe(JWKS_CACHE.cooldownMs);
    expect(jwksMaxAgeMs("no-cache, max-age=60")).toBe(JWKS_CACHE.cooldownMs);
    expect(jwksMaxAgeMs("public")).toBe(600_000);
  });
});

/** A JWKS endpoint in memory: the keys it serves now, its Cache-Control, and how often it was asked. */
function fakeJwks(keys: JWK[], cacheControl: string | null = null) {
  const state = {
    keys,
    cacheControl,
    down: false,
    status: 200,
    body: null as string | null,
    calls: 0,
    fetch: async (_url: string, _init: RequestInit): Promise<Response> => {
      state.calls++;
      if (state.down) throw new TypeError("fetch failed: connection refused");
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (state.cacheControl !== null) headers["cache-control"] = state.cacheControl;
      return new Response(state.body ?? JSON.stringify({ keys: state.keys }), { status: state.status, headers });
    },
  };
  return state;
}

const rsa = await generateKeyPair("RS256", { extractable: true });
const ec = await generateKeyPair("ES256", { extractable: true });
const rsaB = await generateKeyPair("RS256", { extractable: true });
const jwkOf = async (key: CryptoKey, kid: string, alg: string): Promise<JWK> => ({
  ...(await exportJWK(key)),
  kid,
  alg,
  use: "sig",
});
const jwkA = await jwkOf(rsa.publicKey, "A", "RS256");
const jwkE = await jwkOf(ec.publicKey, "E", "ES256");
const jwkB = await jwkOf(rsaB.publicKey, "B", "RS256");

describe("RemoteKeySet (JWT_JWKS_URL)", () => {
  it("selects RSA and EC keys by kid, fetching once and reusing the imported key", async () => {
    const server = fakeJwks([jwkA, jwkE]);
    const set = new RemoteKeySet("https://idp.test/jwks", server.fetch);
    const a = await set.key({ alg: "RS256", kid: "A" });
    expect(a.type).toBe("public");
    expect(await set.key({ alg: "RS256", kid: "A" })).toBe(a);
    expect((await set.key({ alg: "ES256", kid: "E" })).algorithm.name).toBe("ECDSA");
    expect(server.calls).toBe(1);
  });

  it("refuses a header without kid, even when only one key could match", async () => {
    const set = new RemoteKeySet("https://idp.test/jwks", fakeJwks([jwkA]).fetch);
    await expect(set.key({ alg: "RS256" })).rejects.toBeInstanceOf(TokenError);
  });

  it("refuses a kid whose key type does not fit the alg, and never uses an HMAC (oct) member", async () => {
    const oct = { kty: "oct", kid: "H", k: Buffer.from("secret").toString("base64url"), alg: "HS256" };
    const set = new RemoteKeySet("https://idp.test/jwks", fakeJwks([jwkA, jwkE, oct as JWK]).fetch);
    await expect(set.key({ alg: "RS256", kid: "E" })).rejects.toBeInstanceOf(TokenError);
    await expect(set.key({ alg: "HS256", kid: "H" })).rejects.toBeInstanceOf(TokenError);
    await expect(set.key({ alg: "RS256", kid: "H" })).rejects.toBeInstanceOf(TokenError);
  });

  it("refetches for an unknown kid at most once per cooldown, however many tokens name it", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const server = fakeJwks([jwkA]);
    const set = new RemoteKeySet("https://idp.test/jwks", server.fetch);
    await set.key({ alg: "RS256", kid: "A" });
    for (let i = 0; i < 50; i++) {
      await expect(set.key({ alg: "RS256", kid: `nope-${i}` })).rejects.toBeInstanceOf(TokenError);
      vi.advanceTimersByTime(90); // 50 × 90 ms = 4.5 s, inside the cooldown
    }
    expect(server.calls).toBe(1);
    vi.advanceTimersByTime(JWKS_CACHE.cooldownMs);
    for (let i = 0; i < 50; i++)
      await expect(set.key({ alg: "RS256", kid: "nope" })).rejects.toBeInstanceOf(TokenError);
    expect(server.calls).toBe(2);
  });

  it("accepts a rotated-in kid once the cooldown since the last fetch has passed", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const server = fakeJwks([jwkA]);
    const set = new RemoteKeySet("https://idp.test/jwks", server.fetch);
    await set.key({ alg: "RS256", kid: "A" });
    server.keys = [jwkA, jwkB];
    vi.advanceTimersByTime(1_000);
    await expect(set.key({ alg: "RS256", kid: "B" })).rejects.toBeInstanceOf(TokenError);
    vi.advanceTimersByTime(JWKS_CACHE.cooldownMs - 1_000);
    expect((await set.key({ alg: "RS256", kid: "B" })).type).toBe("public");
    expect(server.calls).toBe(2);
  });

  it("stops accepting a removed key once the fetched set is older than its max-age", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const server = fakeJwks([jwkA, jwkB], "max-age=30");
    const set = new RemoteKeySet("https://idp.test/jwks", server.fetch);
    await set.key({ alg: "RS256", kid: "A" });
    server.keys = [jwkB];
    vi.advanceTimersByTime(29_000);
    await expect(set.key({ alg: "RS256", kid: "A" })).resolves.toBeDefined();
    vi.advanceTimersByTime(1_000);
    await expect(set.key({ alg: "RS256", kid: "A" })).rejects.toBeInstanceOf(TokenError);
    await expect(set.key({ alg: "RS256", kid: "B" })).resolves.toBeDefined();
    expect(server.calls).toBe(2);
  });

  it("refuses while the JWKS is down, retries once per cooldown, and recovers", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const server = fakeJwks([jwkA]);
    server.down = true;
    const set = new RemoteKeySet("https://idp.test/jwks", server.fetch);
    for (let i = 0; i < 10; i++) await expect(set.key({ alg: "RS256", kid: "A" })).rejects.toBeInstanceOf(TokenError);
    expect(server.calls).toBe(1);
    server.down = false;
    vi.advanceTimersByTime(JWKS_CACHE.cooldownMs);
    await expect(set.key({ alg: "RS256", kid: "A" })).resolves.toBeDefined();
    expect(server.calls).toBe(2);
  });

  it("refuses an answer that is not 200, not JSON, not a key set, or over 64 KiB", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const bad: Array<(s: ReturnType<typeof fakeJwks>) => void> = [
      (s) => {
        s.status = 302;
      },
      (s) => {
        s.body = "<html>";
      },
      (s) => {
        s.body = JSON.stringify({ keys: "A" });
      },
      (s) => {
        s.body = JSON.stringify({ keys: [jwkA], pad: "x".repeat(70_000) });
      },
    ];
    for (const [i, spoil] of bad.entries()) {
      const server = fakeJwks([jwkA]);
      spoil(server);
      const set = new RemoteKeySet(`https://idp.test/jwks-${i}`, server.fetch);
      await expect(set.key({ alg: "RS256", kid: "A" }), String(i)).rejects.toBeInstanceOf(TokenError);
    }
  });
});

describe("verifyToken with JWT_JWKS_URL", () => {
  let urlSeq = 0;
  function jwksConfig(server: ReturnType<typeof fakeJwks>) {
    vi.stubGlobal("fetch", server.fetch);
    urlSeq++;
    return loadConfig({
      ENVIRONMENT: "test",
      JWT_PUBLIC_KEY: "",
      JWT_JWKS_URL: `https://idp.test/jwks-${urlSeq}.json`,
      JWT_ISSUER: "https://idp.test",
      JWT_AUDIENCE: "coherence",
    });
  }
  const payload = () => ({ tenant: "acme", scope: "coherence:read", iss: "https://idp.test", aud: "coherence" });
  const signed = (key: CryptoKey, alg: string, kid: string | null) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(payload())
      .setProtectedHeader(kid === null ? { alg } : { alg, kid })
      .setExpirationTime(now + 600)
      .sign(key);
  };
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("treats an empty JWT_PUBLIC_KEY as unset, so the JWKS is used", async () => {
    const config = jwksConfig(fakeJwks([jwkA]));
    expect(config.jwt.publicKeyPem).toBeNull();
    expect((await verifyToken(await signed(rsa.privateKey, "RS256", "A"), config)).tenant).toBe("acme");
  });

  it("accepts RS256 and ES256 tokens by kid and refuses one without kid", async () => {
    const config = jwksConfig(fakeJwks([jwkA, jwkE]));
    await expect(verifyToken(await signed(ec.privateKey, "ES256", "E"), config)).resolves.toBeDefined();
    await expect(verifyToken(await signed(rsa.privateKey, "RS256", null), config)).rejects.toBeInstanceOf(TokenError);
  });

  it("refuses HS256 keyed with the JWK's n, and alg none", async () => {
    const config = jwksConfig(fakeJwks([jwkA]));
    const hs = await new SignJWT(payload())
      .setProtectedHeader({ alg: "HS256", kid: "A" })
      .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
      .sign(new TextEncoder().encode(jwkA.n));
    await expect(verifyToken(hs, config)).rejects.toBeInstanceOf(TokenError);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const none = `${b64({ alg: "none", kid: "A" })}.${b64({ ...payload(), exp: Math.floor(Date.now() / 1000) + 600 })}.`;
    await expect(verifyToken(none, config)).rejects.toBeInstanceOf(TokenError);
  });

  it("refuses a token verified earlier once its key has left the JWKS (the cache follows the key set)", async () => {
    vi.useFakeTimers({ now: Date.now() });
    const server = fakeJwks([jwkA, jwkB], "max-age=10");
    const config = jwksConfig(server);
    const token = await signed(rsa.privateKey, "RS256", "A");
    await verifyToken(token, config);
    await verifyToken(token, config);
    server.keys = [jwkB];
    vi.advanceTimersByTime(10_000);
    await expect(verifyToken(token, config)).rejects.toBeInstanceOf(TokenError);
    await expect(verifyToken(await signed(rsaB.privateKey, "RS256", "B"), config)).resolves.toBeDefined();
  });

  it("re-verifies a cached token when its kid now names another key", async () => {
    vi.useFakeTimers({ now: Date.now() });
    const server = fakeJwks([jwkA], "max-age=10");
    const config = jwksConfig(server);
    const token = await signed(rsa.privateKey, "RS256", "A");
    await verifyToken(token, config);
    server.keys = [{ ...jwkB, kid: "A" }];
    vi.advanceTimersByTime(10_000);
    await expect(verifyToken(token, config)).rejects.toBeInstanceOf(TokenError);
  });
});
