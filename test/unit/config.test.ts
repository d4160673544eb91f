import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config";
import { tenantStub } from "../../src/tenant-client";

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

describe("loadConfig: log level and the benchmark's layer switches", () => {
  it("defaults to info and accepts the four levels only", () => {
    expect(loadConfig({}).logLevel).toBe("info");
    expect(loadConfig({ LOG_LEVEL: "warn" }).logLevel).toBe("warn");
    expect(() => loadConfig({ LOG_LEVEL: "loud" })).toThrow(ConfigError);
  });

  it("allows DEV_LAYERS_OFF only in development and test, and only known layers", () => {
    expect([...loadConfig({ ENVIRONMENT: "test", DEV_LAYERS_OFF: "metrics, policy-cache" }).layersOff]).toEqual([
      "metrics",
      "policy-cache",
    ]);
    expect(loadConfig({ ENVIRONMENT: "development", DEV_LAYERS_OFF: "" }).layersOff.size).toBe(0);
    for (const environment of ["production", "staging"]) {
      expect(() => loadConfig({ ENVIRONMENT: environment, DEV_LAYERS_OFF: "metrics" })).toThrow(ConfigError);
    }
    expect(() => loadConfig({ ENVIRONMENT: "test", DEV_LAYERS_OFF: "auth" })).toThrow(ConfigError);
  });
});
