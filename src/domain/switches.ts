/**
 * Runtime switches (docs/api.md §4.11): what an operator flips during an incident without a redeploy. Each has a
 * default from the deployment's settings; a stored value (the OpsSwitches object) overrides it until reset.
 *
 * - `coherence` on|off — the feature flag (`FEATURE_COHERENCE`, the seed's `v24.coherence`).
 * - `materializer` on|off — whether the sink consumer writes to Neo4j and Postgres; while off, sink messages are
 *   parked (kept, not retried) and released when it is on again.
 * - `read-mode` durable-object|postgres|neo4j — where `tenantCoherence` is read (`READ_MODE`; ADR-001's fallbacks).
 * - `op:<persisted operation name>` on|off — `on` answers that operation with a static 503 (the seed's "repoint
 *   persisted query to static value (503) during incident"); other operations are unaffected.
 */

export const READ_MODES = ["durable-object", "postgres", "neo4j"] as const;
export type ReadMode = (typeof READ_MODES)[number];

/** The switches in effect. */
export interface Switches {
  coherence: boolean;
  materializer: boolean;
  readMode: ReadMode;
  /** Persisted operations answered with a static 503. */
  disabledOps: ReadonlySet<string>;
}

/** Stored values by switch name (as the operator set them: `on`/`off`, a read mode). */
export type StoredSwitches = Readonly<Record<string, string>>;

/** What the defaults come from: the deployment's settings. */
export interface SwitchDefaults {
  featureCoherence: boolean;
  readMode: ReadMode;
}

export const OP_PREFIX = "op:";

/** A switch change as validated: its name and canonical value, or why it is refused. */
export type SwitchChange = { ok: true; name: string; value: string } | { ok: false; message: string };

const ON_OFF: Record<string, "on" | "off"> = {
  on: "on",
  off: "off",
  true: "on",
  false: "off",
  enabled: "on",
  disabled: "off",
};

/**
 * Validates a change: a known switch and a value it takes. `reset` (any switch) removes the stored value, so the
 * default applies again. `operations` are the persisted operations' names (an `op:` switch must name one).
 */
export function parseSwitchChange(name: string, value: unknown, operations: readonly string[]): SwitchChange {
  if (typeof value !== "string" || value.length === 0) {
    return { ok: false, message: `the value of ${name} must be a non-empty string` };
  }
  const v = value.trim().toLowerCase();
  if (v === "reset") {
    return isKnown(name, operations)
      ? { ok: true, name, value: "reset" }
      : { ok: false, message: unknownSwitch(name, operations) };
  }
  if (name === "coherence" || name === "materializer" || (name.startsWith(OP_PREFIX) && isKnown(name, operations))) {
    const canonical = ON_OFF[v];
    if (!canonical) return { ok: false, message: `${name} takes on or off (or reset), not "${value}"` };
    return { ok: true, name, value: canonical };
  }
  if (name === "read-mode") {
    if (!(READ_MODES as readonly string[]).includes(v)) {
      return { ok: false, message: `read-mode takes ${READ_MODES.join(", ")} (or reset), not "${value}"` };
    }
    return { ok: true, name, value: v };
  }
  return { ok: false, message: unknownSwitch(name, operations) };
}

function isKnown(name: string, operations: readonly string[]): boolean {
  if (name === "coherence" || name === "materializer" || name === "read-mode") return true;
  return name.startsWith(OP_PREFIX) && operations.includes(name.slice(OP_PREFIX.length));
}

function unknownSwitch(name: string, operations: readonly string[]): string {
  const ops = operations.map((o) => `${OP_PREFIX}${o}`).join(", ");
  return `unknown switch "${name}": known are coherence, materializer, read-mode and ${ops}`;
}

/** The switches in effect: each stored value over its default. */
export function effectiveSwitches(defaults: SwitchDefaults, stored: StoredSwitches): Switches {
  const disabledOps = new Set<string>();
  for (const [name, value] of Object.entries(stored)) {
    if (name.startsWith(OP_PREFIX) && value === "on") disabledOps.add(name.slice(OP_PREFIX.length));
  }
  const readMode = stored["read-mode"];
  return {
    coherence: stored.coherence === undefined ? defaults.featureCoherence : stored.coherence === "on",
    materializer: stored.materializer === undefined ? true : stored.materializer === "on",
    readMode:
      readMode && (READ_MODES as readonly string[]).includes(readMode) ? (readMode as ReadMode) : defaults.readMode,
    disabledOps,
  };
}

/** The switches as plain JSON (for the operator route): every switch with its value and where it comes from. */
export function describeSwitches(
  defaults: SwitchDefaults,
  stored: StoredSwitches,
  operations: readonly string[],
): Array<{ name: string; value: string; default: string; source: "default" | "switch" }> {
  const defaultsByName: Record<string, string> = {
    coherence: defaults.featureCoherence ? "on" : "off",
    materializer: "on",
    "read-mode": defaults.readMode,
  };
  for (const op of operations) defaultsByName[`${OP_PREFIX}${op}`] = "off";
  return Object.entries(defaultsByName).map(([name, value]) =>
    stored[name] === undefined
      ? { name, value, default: value, source: "default" }
      : { name, value: stored[name], default: value, source: "switch" },
  );
}
