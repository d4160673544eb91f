import { type Context, Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { openSinks } from "../../adapters/sinks";
import type { LedgerEntry, LedgerLink } from "../../domain/ledger";
import { AppError } from "../../errors";
import { SinkError } from "../../ports";
import { type AppEnv, tenantClient } from "../context";
import { requireAuth } from "../middleware/auth";
import { enforceTenantAction, tenantParam } from "../tenant-access";

/** Provenance ids are the service's UUIDs; anything else printable up to 128 characters is simply not found. */
const PROVENANCE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_PAGE = 1000;

/** An entry as the API shows it (docs/api.md §4.10): the hashed fields, `receivedAt` as ISO time. */
function entryJson(e: LedgerEntry) {
  return {
    tenantId: e.tenantId,
    seq: e.seq,
    provenanceId: e.provenanceId,
    requestSha256: e.requestSha256,
    signalCount: e.signalCount,
    policyTags: e.policyTags,
    receivedAt: new Date(e.receivedAtMs).toISOString(),
    prevHash: e.prevHash,
    hash: e.hash,
  };
}

function nonNegativeInt(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n > max) {
    throw new AppError(400, "VALIDATION_FAILED", `${name} must be an integer 0..${max}`, [
      { path: name, message: `must be an integer 0..${max}` },
    ]);
  }
  return n;
}

/**
 * The provenance ledger of a tenant (docs/api.md §4.10), scope `coherence:read`, the token's own tenant only.
 * One entry by its request's provenance id: from the tenant's object while it keeps it (about a day), else from
 * Postgres (the retention period). The object's entries in chain order, for `npm run provenance:verify`.
 */
export const provenanceRoutes = new Hono<AppEnv>()
  .get("/v1/tenants/:tenantId/provenance/:provenanceId", op("provenance_entry"), requireAuth, async (c) => {
    const provenanceId = c.req.param("provenanceId");
    const tenantId = await readableTenant(c, () => {
      if (!PROVENANCE_ID.test(provenanceId)) {
        throw new AppError(400, "VALIDATION_FAILED", "provenance id must be 1..128 of [A-Za-z0-9._:-]", [
          { path: "provenanceId", message: "invalid provenance id" },
        ]);
      }
    });
    c.get("log").provenance_id = provenanceId;
    const fromObject = await tenantClient(c, tenantId).ledgerEntry(provenanceId);
    let entry = fromObject.entry;
    let storedIn: "object" | "postgres" = "object";
    if (!entry) {
      entry = await fromPostgres(c.get("config"), tenantId, provenanceId);
      storedIn = "postgres";
    }
    if (!entry) {
      throw new AppError(404, "NOT_FOUND", `no provenance-ledger entry for request ${provenanceId}`);
    }
    return c.json({
      entry: entryJson(entry),
      chain: { position: entry.seq, head: fromObject.head?.seq ?? entry.seq, storedIn },
    });
  })
  .get("/v1/tenants/:tenantId/provenance", op("provenance_list"), requireAuth, async (c) => {
    let after = 0;
    let limit = 100;
    const tenantId = await readableTenant(c, () => {
      after = nonNegativeInt("after", c.req.query("after"), 0, Number.MAX_SAFE_INTEGER);
      limit = Math.max(1, nonNegativeInt("limit", c.req.query("limit"), 100, MAX_PAGE));
    });
    const { entries, head } = await tenantClient(c, tenantId).ledgerAfter(after, limit);
    const last = entries.at(-1);
    return c.json({
      tenantId,
      entries: entries.map(entryJson),
      head: head satisfies LedgerLink | null,
      next: last && head && last.seq < head.seq ? last.seq : null,
    });
  });

/** Names the request's `op` (its log line and metrics) before auth, so refusals are counted under it. */
function op(name: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    c.get("log").op = name;
    await next();
  });
}

/**
 * The path's tenant, once the policy allows reading its ledger — in the contract's order: scope (403), the path
 * and `validate`'s checks of the rest of the request (400), the tenant (403).
 */
async function readableTenant(c: Context<AppEnv>, validate: () => void): Promise<string> {
  const log = c.get("log");
  const principal = c.get("principal");
  await enforceTenantAction(log, "provenance_read", principal, null);
  const tenantId = tenantParam(c.req.param("tenantId") ?? "");
  validate();
  await enforceTenantAction(log, "provenance_read", principal, tenantId);
  log.tenant_id = tenantId;
  return tenantId;
}

/** The entry from Postgres (null when Postgres is not configured or has none); 503 when it cannot be asked. */
async function fromPostgres(
  config: AppEnv["Variables"]["config"],
  tenantId: string,
  provenanceId: string,
): Promise<LedgerEntry | null> {
  const { scores } = openSinks(config);
  if (!scores) return null;
  try {
    return await scores.ledgerEntry(tenantId, provenanceId);
  } catch (err) {
    if (err instanceof SinkError) {
      throw new AppError(503, "SERVICE_UNAVAILABLE", "the provenance ledger's store is unavailable", undefined, {
        "Retry-After": "5",
      });
    }
    throw err;
  } finally {
    await scores.close();
  }
}
