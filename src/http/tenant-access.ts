import { type AuthzAction, authorize, denialMessage, recordDecision } from "../auth/authz";
import type { Principal } from "../auth/principal";
import { isTenantId } from "../domain/signal";
import { AppError } from "../errors";
import type { RequestLog } from "./context";

/** A route's `:tenantId`, or 400 VALIDATION_FAILED. */
export function tenantParam(tenantId: string): string {
  if (!isTenantId(tenantId)) {
    throw new AppError(400, "VALIDATION_FAILED", "tenant id must be 1..128 of [A-Za-z0-9._:-]", [
      { path: "tenantId", message: "invalid tenant id" },
    ]);
  }
  return tenantId;
}

/**
 * The policy's decision on a route that names its tenant in the path, in the contract's order: first the scope
 * alone (`tenantId` null: before the path is validated), then the tenant. 403 FORBIDDEN when refused.
 */
export async function enforceTenantAction(
  log: RequestLog,
  action: AuthzAction,
  principal: Principal,
  tenantId: string | null,
): Promise<void> {
  const decision = await authorize(action, principal, tenantId === null ? undefined : [tenantId]);
  recordDecision(log, action, decision);
  if (tenantId === null ? !decision.scopeOk : !decision.allow) {
    throw new AppError(403, "FORBIDDEN", denialMessage(action, decision));
  }
}
