import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config";
import { tenantStub } from "../../src/tenants";

describe("loadConfig: residency and fail-closed settings", () => {
  it("refuses the unpinned Durable Object fallback in production", () => {
    expect(() => loadConfig({ ENVIRONMENT: "production", DEV_UNPINNED_DURABLE_OBJECTS: "true" })).toThrow(ConfigError);
  });

  it("defaults to production, pinned objects and the contract's limits", () => {
    const config = loadConfig({});
    expect(config.environment).toBe("production");
    expect(config.unpinnedDurableObjects).toBe(false);
    expect(config.rpsMax).toBe(1000);
    expect(config.wsMaxSocketsPerTenant).toBe(5000);
  });

  it("treats an empty JWT_PUBLIC_KEY as absent", () => {
    expect(loadConfig({ JWT_PUBLIC_KEY: "", JWT_JWKS_URL: "https://idp.example/jwks" }).jwt).toMatchObject({
      publicKeyPem: null,
      jwksUrl: "https://idp.example/jwks",
    });
  });

  it("refuses nonsense limits", () => {
    expect(() => loadConfig({ RPS_MAX: "0" })).toThrow(ConfigError);
    expect(() => loadConfig({ WS_MAX_SOCKETS_PER_TENANT: "-1" })).toThrow(ConfigError);
    expect(() => loadConfig({ FANOUT_WINDOW_MS: "101" })).toThrow(ConfigError);
  });
});

describe("tenantStub: the US jurisdiction", () => {
  function fakeNamespace() {
    const calls: string[] = [];
    const ns = {
      idFromName: (name: string) => {
        calls.push(`idFromName:${name}`);
        return name;
      },
      get: (id: string) => ({ id }),
      jurisdiction: (j: string) => {
        calls.push(`jurisdiction:${j}`);
        return ns;
      },
    };
    return { ns, calls };
  }

  it("addresses every tenant object through jurisdiction('us') in production", () => {
    const { ns, calls } = fakeNamespace();
    tenantStub(ns as never, loadConfig({}), "acme");
    expect(calls).toEqual(["jurisdiction:us", "idFromName:acme"]);
  });

  it("answers 503 rather than use an unpinned object when pinning fails", () => {
    const { ns } = fakeNamespace();
    ns.jurisdiction = () => {
      throw new Error("no jurisdictions here");
    };
    expect(() => tenantStub(ns as never, loadConfig({}), "acme")).toThrow(/jurisdiction/);
  });
});
