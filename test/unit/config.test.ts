import { describe, expect, it, vi } from "vitest";
import { adhocOperationsAllowed, ConfigError, loadConfig, MAX_ADHOC_WINDOW_MS } from "../../src/config";
import { tenantStub } from "../../src/tenant-client";

/** What a production deployment must set besides the defaults: the token issuer and audience. */
const PROD = {
  JWT_ISSUER: "https://idp.example",
  JWT_AUDIENCE: "coherence",
  LOG_HASH_KEY: "k",
  REALTIME_TICKET_KEY: "t",
};

describe("loadConfig: residency and fail-closed settings", () => {
  it("refuses the unpinned Durable Object fallback in production", () => {
    expect(() => loadConfig({ ENVIRONMENT: "production", DEV_UNPINNED_DURABLE_OBJECTS: "true" })).toThrow(ConfigError);
  });

  it("defaults to production, pinned objects and the contract's limits", () => {
    const config = loadConfig({ ...PROD });
    expect(config.environment).toBe("production");
    expect(config.unpinnedDurableObjects).toBe(false);
    expect(config.rpsMax).toBe(1000);
    expect(config.wsMaxSocketsPerTenant).toBe(5000);
  });

  it("treats an empty JWT_PUBLIC_KEY as absent", () => {
    expect(loadConfig({ ...PROD, JWT_PUBLIC_KEY: "", JWT_JWKS_URL: "https://idp.example/jwks" }).jwt).toMatchObject({
      publicKeyPem: null,
      jwksUrl: "https://idp.example/jwks",
    });
  });

  it("refuses nonsense limits", () => {
    expect(() => loadConfig({ ...PROD, RPS_MAX: "0" })).toThrow(ConfigError);
    expect(() => loadConfig({ ...PROD, WS_MAX_SOCKETS_PER_TENANT: "-1" })).toThrow(ConfigError);
    expect(() => loadConfig({ ...PROD, FANOUT_WINDOW_MS: "101" })).toThrow(ConfigError);
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
    tenantStub(ns as never, loadConfig({ ...PROD }), "acme");
    expect(calls).toEqual(["jurisdiction:us", "idFromName:acme"]);
  });

  it("answers 503 rather than use an unpinned object when pinning fails", () => {
    const { ns } = fakeNamespace();
    ns.jurisdiction = () => {
      throw new Error("no jurisdictions here");
    };
    expect(() => tenantStub(ns as never, loadConfig({ ...PROD }), "acme")).toThrow(/jurisdiction/);
  });
});

describe("loadConfig: log level and the benchmark's layer switches", () => {
  it("defaults to info and accepts the four levels only", () => {
    expect(loadConfig({ ...PROD }).logLevel).toBe("info");
    expect(loadConfig({ ...PROD, LOG_LEVEL: "warn" }).logLevel).toBe("warn");
    expect(() => loadConfig({ ...PROD, LOG_LEVEL: "loud" })).toThrow(ConfigError);
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

describe("loadConfig: settings for local runs, tests and benchmarks (allow-list: development and test only)", () => {
  const devOnly: Record<string, string> = {
    DEBUG_DELAY_MS: "50",
    DEV_UNPINNED_DURABLE_OBJECTS: "true",
    DEV_LAYERS_OFF: "metrics",
  };
  for (const [name, value] of Object.entries(devOnly)) {
    it(`allows ${name} in development and test only`, () => {
      for (const environment of ["development", "test"]) {
        expect(() => loadConfig({ ENVIRONMENT: environment, [name]: value })).not.toThrow();
      }
      for (const environment of ["production", "staging"]) {
        expect(() => loadConfig({ ...PROD, ENVIRONMENT: environment, [name]: value })).toThrow(
          new RegExp(`${name}: allowed only when ENVIRONMENT is development or test`),
        );
      }
    });
  }

  it("requires JWT_ISSUER and JWT_AUDIENCE outside development and test", () => {
    for (const environment of ["production", "staging"]) {
      expect(() => loadConfig({ ENVIRONMENT: environment, LOG_HASH_KEY: "k" })).toThrow(
        /JWT_ISSUER and JWT_AUDIENCE required/,
      );
      expect(() =>
        loadConfig({ ENVIRONMENT: environment, LOG_HASH_KEY: "k", JWT_ISSUER: "https://idp.example" }),
      ).toThrow(/JWT_AUDIENCE required/);
      expect(loadConfig({ ...PROD, ENVIRONMENT: environment }).jwt).toMatchObject({
        issuer: PROD.JWT_ISSUER,
        audience: PROD.JWT_AUDIENCE,
      });
    }
    expect(loadConfig({ ENVIRONMENT: "development" }).jwt.issuer).toBeNull();
  });

  it("requires REALTIME_TICKET_KEY (the realtime tickets' MAC key) outside development and test", () => {
    const { REALTIME_TICKET_KEY: _, ...withoutKey } = PROD;
    expect(() => loadConfig({ ...withoutKey, ENVIRONMENT: "production" })).toThrow(/REALTIME_TICKET_KEY required/);
    expect(loadConfig({ ...PROD, ENVIRONMENT: "production" }).realtimeTicketKey).toBe("t");
  });

  it("requires LOG_HASH_KEY (the key of the sub pseudonym in logs) outside development and test", () => {
    const { LOG_HASH_KEY: _, ...withoutKey } = PROD;
    expect(() => loadConfig({ ...withoutKey, ENVIRONMENT: "staging" })).toThrow(/LOG_HASH_KEY required/);
    expect(loadConfig({ ...PROD, ENVIRONMENT: "staging" }).logHashKey).toBe("k");
    expect(loadConfig({ ENVIRONMENT: "test" }).logHashKey.length).toBeGreaterThan(0);
  });
});

describe("loadConfig: ad-hoc GraphQL operations (triage window outside development and test)", () => {
  const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

  it("allows them plainly in development and test", () => {
    const config = loadConfig({ ENVIRONMENT: "test", ALLOW_ADHOC_OPERATIONS: "true" });
    expect(adhocOperationsAllowed(config, Date.now())).toBe(true);
    expect(adhocOperationsAllowed(loadConfig({ ENVIRONMENT: "test" }), Date.now())).toBe(false);
  });

  it("refuses them in production and staging without ALLOW_ADHOC_OPERATIONS_UNTIL", () => {
    for (const environment of ["production", "staging"]) {
      expect(() => loadConfig({ ...PROD, ENVIRONMENT: environment, ALLOW_ADHOC_OPERATIONS: "true" })).toThrow(
        /needs ALLOW_ADHOC_OPERATIONS_UNTIL/,
      );
    }
  });

  it("refuses a window more than 24 h ahead, or not an ISO time", () => {
    const base = { ...PROD, ENVIRONMENT: "production", ALLOW_ADHOC_OPERATIONS: "true" };
    expect(() => loadConfig({ ...base, ALLOW_ADHOC_OPERATIONS_UNTIL: inMs(MAX_ADHOC_WINDOW_MS + 60_000) })).toThrow(
      /more than 24 h ahead/,
    );
    expect(() => loadConfig({ ...base, ALLOW_ADHOC_OPERATIONS_UNTIL: "tomorrow" })).toThrow(ConfigError);
  });

  it("allows them until the instant, refuses them after it, and says so loudly", () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((line: string) => {
      lines.push(line);
    });
    try {
      const until = Date.now() + 3_600_000;
      const config = loadConfig({
        ...PROD,
        ENVIRONMENT: "production",
        ALLOW_ADHOC_OPERATIONS: "true",
        ALLOW_ADHOC_OPERATIONS_UNTIL: new Date(until).toISOString(),
      });
      expect(adhocOperationsAllowed(config, until - 1)).toBe(true);
      expect(adhocOperationsAllowed(config, until)).toBe(false);
      expect(lines.some((l) => /"level":"warn".*ADHOC_OPERATIONS_ENABLED/.test(l))).toBe(true);

      // A window already past is no configuration error (the service keeps serving): it allows nothing.
      const past = loadConfig({
        ...PROD,
        ENVIRONMENT: "staging",
        ALLOW_ADHOC_OPERATIONS: "true",
        ALLOW_ADHOC_OPERATIONS_UNTIL: inMs(-60_000),
      });
      expect(adhocOperationsAllowed(past, Date.now())).toBe(false);
      expect(lines.some((l) => /ADHOC_OPERATIONS_EXPIRED/.test(l))).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });
});
