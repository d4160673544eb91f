// The runtime switches' rules (src/domain/switches.ts) and the per-isolate cache (src/switches.ts), with an
// injected clock: a change is seen within SWITCH_CACHE_MS, a refresh in flight is never awaited by another caller,
// and an unreadable object keeps the last copy.
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config";
import { describeSwitches, effectiveSwitches, parseSwitchChange, type StoredSwitches } from "../../src/domain/switches";
import { SWITCH_CACHE_MS, SwitchCache } from "../../src/switches";

const OPS = ["pq_tenant_coherence_v1", "pq_publish_signal_v1"];
const config = loadConfig({ ENVIRONMENT: "test", READ_MODE: "durable-object", FEATURE_COHERENCE: "true" });

afterEach(() => vi.restoreAllMocks());

describe("parseSwitchChange", () => {
  it("takes the known switches with their values, canonically", () => {
    expect(parseSwitchChange("coherence", "OFF", OPS)).toEqual({ ok: true, name: "coherence", value: "off" });
    expect(parseSwitchChange("materializer", "enabled", OPS)).toEqual({ ok: true, name: "materializer", value: "on" });
    expect(parseSwitchChange("read-mode", " Neo4j ", OPS)).toEqual({ ok: true, name: "read-mode", value: "neo4j" });
    expect(parseSwitchChange("op:pq_publish_signal_v1", "on", OPS)).toMatchObject({ ok: true, value: "on" });
    expect(parseSwitchChange("read-mode", "reset", OPS)).toMatchObject({ ok: true, value: "reset" });
  });

  it("refuses unknown switches, unknown operations and values a switch does not take", () => {
    for (const [name, value] of [
      ["colour", "on"],
      ["op:pq_unknown_v1", "on"],
      ["op:", "on"],
      ["coherence", "maybe"],
      ["read-mode", "redis"],
      ["read-mode", "on"],
      ["materializer", ""],
      ["materializer", 1],
      ["colour", "reset"],
    ] as const) {
      const result = parseSwitchChange(name, value, OPS);
      expect(result.ok, `${name}=${String(value)}`).toBe(false);
      if (!result.ok) expect(result.message.length).toBeGreaterThan(10);
    }
  });
});

describe("effectiveSwitches", () => {
  it("follows the settings until a stored value overrides them", () => {
    const defaults = { featureCoherence: false, readMode: "postgres" as const };
    expect(effectiveSwitches(defaults, {})).toEqual({
      coherence: false,
      materializer: true,
      readMode: "postgres",
      disabledOps: new Set(),
    });
    const stored = { coherence: "on", materializer: "off", "read-mode": "neo4j", "op:pq_publish_signal_v1": "on" };
    expect(effectiveSwitches(defaults, stored)).toEqual({
      coherence: true,
      materializer: false,
      readMode: "neo4j",
      disabledOps: new Set(["pq_publish_signal_v1"]),
    });
    expect(effectiveSwitches(defaults, { "op:pq_publish_signal_v1": "off" }).disabledOps.size).toBe(0);
  });

  it("describes every switch with its default and where its value comes from", () => {
    const rows = describeSwitches(config, { "read-mode": "neo4j" }, OPS);
    expect(rows.map((r) => r.name)).toEqual(["coherence", "materializer", "read-mode", ...OPS.map((o) => `op:${o}`)]);
    expect(rows.find((r) => r.name === "read-mode")).toEqual({
      name: "read-mode",
      value: "neo4j",
      default: "durable-object",
      source: "switch",
    });
    expect(rows.find((r) => r.name === "coherence")).toMatchObject({ value: "on", source: "default" });
  });
});

describe("SwitchCache", () => {
  it("reads the object once, then serves its copy until it is SWITCH_CACHE_MS old", async () => {
    const cache = new SwitchCache();
    let stored: StoredSwitches = {};
    const load = vi.fn(async () => stored);
    expect((await cache.get(config, load, 1000)).coherence).toBe(true);
    stored = { coherence: "off" };
    expect((await cache.get(config, load, 1000 + SWITCH_CACHE_MS - 1)).coherence).toBe(true);
    expect(load).toHaveBeenCalledTimes(1);
    expect((await cache.get(config, load, 1000 + SWITCH_CACHE_MS)).coherence).toBe(false);
    expect(load).toHaveBeenCalledTimes(2);
    expect(SWITCH_CACHE_MS).toBeLessThan(5000);
  });

  it("lets other callers keep the previous copy while one refreshes; none awaits another's read", async () => {
    const cache = new SwitchCache();
    await cache.get(config, async () => ({}), 0);
    let release: (v: StoredSwitches) => void = () => {};
    const slow = vi.fn(() => new Promise<StoredSwitches>((r) => (release = r)));
    const refreshing = cache.get(config, slow, SWITCH_CACHE_MS);
    const other = vi.fn(async () => ({ materializer: "off" }));
    // Another request of the isolate during the refresh: the old copy, at once, without a second read.
    expect((await cache.get(config, other, SWITCH_CACHE_MS + 10)).materializer).toBe(true);
    expect(other).not.toHaveBeenCalled();
    release({ materializer: "off" });
    expect((await refreshing).materializer).toBe(false);
  });

  it("presumes a refresh claimed over 2 s ago lost (its request cancelled) and reads again", async () => {
    const cache = new SwitchCache();
    await cache.get(config, async () => ({}), 0);
    void cache.get(config, () => new Promise<StoredSwitches>(() => {}), SWITCH_CACHE_MS);
    const next = vi.fn(async () => ({ coherence: "off" }));
    expect((await cache.get(config, next, SWITCH_CACHE_MS + 2500)).coherence).toBe(false);
    expect(next).toHaveBeenCalledTimes(1);
  });

  it("keeps the last copy (or the defaults) when the object cannot be read, and says so", async () => {
    const warn = vi.spyOn(console, "log").mockImplementation(() => {});
    const cache = new SwitchCache();
    const failing = async (): Promise<StoredSwitches> => {
      throw new Error("object unreachable");
    };
    expect(await cache.get(config, failing, 0)).toMatchObject({ coherence: true, readMode: "durable-object" });
    await cache.get(config, async () => ({ "read-mode": "postgres" }), SWITCH_CACHE_MS);
    expect((await cache.get(config, failing, 2 * SWITCH_CACHE_MS)).readMode).toBe("postgres");
    const lines = warn.mock.calls.map((c) => String(c[0])).filter((l) => l.includes("SWITCHES_UNAVAILABLE"));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain("last copy");
  });

  it("a change made in this isolate is seen at once (set)", async () => {
    const cache = new SwitchCache();
    const load = vi.fn(async () => ({}));
    await cache.get(config, load, 0);
    cache.set({ coherence: "off" }, 10);
    expect((await cache.get(config, load, 20)).coherence).toBe(false);
    expect(load).toHaveBeenCalledTimes(1);
  });
});
