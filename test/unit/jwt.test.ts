import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { bearerToken, TokenError, verifyToken } from "../../src/auth/jwt";
import { loadConfig } from "../../src/config";

const keys = await generateKeyPair("ES256", { extractable: true });
const config = loadConfig({ JWT_PUBLIC_KEY: await exportSPKI(keys.publicKey) });

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
