import { describe, expect, it } from "vitest";
import { clientCredentials, perTenant } from "../src/index.ts";

const ISSUER = "http://127.0.0.1:9555";

/** A scripted authorization server: discovery and a client-credentials token endpoint. */
function authServer(opts: { expiresIn?: number; refuse?: boolean } = {}) {
  const tokenRequests: Array<{ auth: string | null; form: URLSearchParams }> = [];
  let discovery = 0;
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const json = (body: unknown, status = 200) =>
      new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    if (url === `${ISSUER}/.well-known/openid-configuration`) {
      discovery++;
      return json({ issuer: ISSUER, token_endpoint: `${ISSUER}/token`, jwks_uri: `${ISSUER}/jwks` });
    }
    if (url === `${ISSUER}/token`) {
      const form = new URLSearchParams(String(init?.body ?? ""));
      tokenRequests.push({ auth: new Headers(init?.headers).get("authorization"), form });
      if (opts.refuse) return json({ error: "invalid_client", error_description: "unknown client" }, 401);
      return json({
        access_token: `at-${tokenRequests.length}`,
        token_type: "Bearer",
        expires_in: opts.expiresIn ?? 300,
      });
    }
    return new Response("not found", { status: 404 });
  };
  return { fetch: fetchImpl as typeof fetch, tokenRequests, discoveries: () => discovery };
}

describe("OAuth client credentials", () => {
  it("discovers the token endpoint, authenticates with client_secret_basic and sends scope and resource", async () => {
    const as = authServer();
    const p = clientCredentials({
      issuer: ISSUER,
      clientId: "bridge",
      clientSecret: "s3cret",
      scope: "coherence:write",
      resource: "https://coherence.example",
      fetch: as.fetch,
    });
    expect(await p.token({ tenantId: "acme", refresh: false })).toBe("at-1");
    expect(as.discoveries()).toBe(1);
    const [req] = as.tokenRequests;
    expect(req!.form.get("grant_type")).toBe("client_credentials");
    expect(req!.form.get("scope")).toBe("coherence:write");
    expect(req!.form.get("resource")).toBe("https://coherence.example");
    expect(req!.auth).toBe(`Basic ${btoa("bridge:s3cret")}`);
  });

  it("keeps the token until shortly before it expires, then fetches a new one", async () => {
    const as = authServer({ expiresIn: 300 });
    let now = 1_000_000;
    const p = clientCredentials({ issuer: ISSUER, clientId: "c", clientSecret: "s", fetch: as.fetch, now: () => now });
    expect(await p.token({ tenantId: null, refresh: false })).toBe("at-1");
    now += 269_000; // 300 s life, refreshed a tenth of it (30 s) early
    expect(await p.token({ tenantId: null, refresh: false })).toBe("at-1");
    now += 1_000;
    expect(await p.token({ tenantId: null, refresh: false })).toBe("at-2");
    expect(as.tokenRequests).toHaveLength(2);
    expect(as.discoveries()).toBe(1);
  });

  it("shares one token request among concurrent callers, and fetches anew when asked to refresh", async () => {
    const as = authServer();
    const p = clientCredentials({ issuer: ISSUER, clientId: "c", clientSecret: "s", fetch: as.fetch });
    const got = await Promise.all([1, 2, 3].map(() => p.token({ tenantId: null, refresh: false })));
    expect(got).toEqual(["at-1", "at-1", "at-1"]);
    expect(await p.token({ tenantId: null, refresh: true })).toBe("at-2");
  });

  it("reports a refusing token endpoint as TOKEN_UNAVAILABLE with the server's error", async () => {
    const as = authServer({ refuse: true });
    const p = clientCredentials({ issuer: ISSUER, clientId: "c", clientSecret: "s", fetch: as.fetch });
    await expect(p.token({ tenantId: null, refresh: false })).rejects.toMatchObject({
      code: "TOKEN_UNAVAILABLE",
      message: expect.stringContaining("invalid_client"),
      retryable: false,
    });
  });

  it("refuses plain http to a host that is not loopback", async () => {
    const p = clientCredentials({
      issuer: "http://idp.example",
      clientId: "c",
      clientSecret: "s",
      fetch: (async () => new Response("{}")) as typeof fetch,
    });
    await expect(p.token({ tenantId: null, refresh: false })).rejects.toMatchObject({ code: "TOKEN_UNAVAILABLE" });
  });
});

describe("perTenant", () => {
  it("answers each tenant with its own provider and refuses an unknown tenant", async () => {
    const p = perTenant({ a: "token-a", b: () => "token-b" });
    expect(await p.token({ tenantId: "a", refresh: false })).toBe("token-a");
    expect(await p.token({ tenantId: "b", refresh: false })).toBe("token-b");
    await expect(p.token({ tenantId: "c", refresh: false })).rejects.toMatchObject({ code: "TOKEN_UNAVAILABLE" });
    expect(p.refreshable).toBe(true);
  });
});
