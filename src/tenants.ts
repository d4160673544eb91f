import type { Config } from "./config";
import { AppError } from "./http/errors";

type TenantNamespace = Env["TENANT"];

/**
 * The Durable Object stub of `tenantId`'s object, pinned to the US jurisdiction.
 * Only the dev/test setting `DEV_UNPINNED_DURABLE_OBJECTS` (refused in production by `loadConfig`)
 * addresses objects without a jurisdiction; if pinning fails otherwise, the request fails closed with 503.
 */
export function tenantStub(ns: TenantNamespace, config: Config, tenantId: string) {
  if (config.unpinnedDurableObjects) return ns.get(ns.idFromName(tenantId));
  let pinned: TenantNamespace;
  try {
    pinned = ns.jurisdiction("us");
  } catch {
    throw new AppError(503, "SERVICE_UNAVAILABLE", "tenant storage is unavailable in the required jurisdiction");
  }
  return pinned.get(pinned.idFromName(tenantId));
}
