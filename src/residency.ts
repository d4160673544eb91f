import { AppError } from "./errors";

/**
 * Where Durable Object state rests (docs/adr.md ADR-005). Every namespace whose objects hold tenant data — the
 * tenants' objects, the dead letters (every tenant's undelivered signals), the metrics aggregators — is addressed
 * through {@link pinnedStub} only, so all of it is created in the US jurisdiction; test/unit/residency.test.ts
 * fails on any other `idFromName` in the code, and test/integration/residency.test.ts drives each binding
 * through here.
 */

/** What pinning needs from the settings: only the dev/test switch `DEV_UNPINNED_DURABLE_OBJECTS`. */
export interface Pinning {
  unpinnedDurableObjects: boolean;
}

/** The part of a namespace binding used here (every `DurableObjectNamespace` has it). */
export interface PinnableNamespace<Stub> {
  jurisdiction(name: "us"): PinnableNamespace<Stub>;
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): Stub;
}

/**
 * The stub of object `name` in `ns`, in the US jurisdiction. Only `DEV_UNPINNED_DURABLE_OBJECTS` (development and
 * test, where workerd has no jurisdictions) addresses it without; if pinning fails otherwise, the caller fails
 * closed with 503 rather than use an unpinned object.
 */
export function pinnedStub<Stub>(ns: PinnableNamespace<Stub>, pinning: Pinning, name: string): Stub {
  if (pinning.unpinnedDurableObjects) return ns.get(ns.idFromName(name));
  let pinned: PinnableNamespace<Stub>;
  try {
    pinned = ns.jurisdiction("us");
  } catch {
    throw new AppError(503, "SERVICE_UNAVAILABLE", "storage is unavailable in the required jurisdiction");
  }
  return pinned.get(pinned.idFromName(name));
}

/** The dead-letter store (one object, "dlq"). */
export function deadLetterStore(env: Pick<Env, "DEAD_LETTERS">, pinning: Pinning) {
  return pinnedStub(env.DEAD_LETTERS, pinning, "dlq");
}

/** Every tenant's latest summary for the operators' overview (one object, "directory"). */
export function tenantDirectory(env: Pick<Env, "TENANT_DIRECTORY">, pinning: Pinning) {
  return pinnedStub(env.TENANT_DIRECTORY, pinning, "directory");
}

/** The runtime switches (one object, "switches"; src/switches.ts). */
export function opsSwitches(env: Pick<Env, "OPS_SWITCHES">, pinning: Pinning) {
  return pinnedStub(env.OPS_SWITCHES, pinning, "switches");
}
