import type { Context } from "hono";
import type { Principal } from "../auth/principal";
import type { Config } from "../config";
import type { Switches } from "../domain/switches";
import type { Observation } from "../metrics/model";
import type { TraceScope } from "../telemetry/tracer";
import { TenantClient } from "../tenant-client";

/** Per-request log fields, filled in as the request is understood and written once at the end. */
export interface RequestLog {
  op: string;
  tenant_id: string | null;
  provenance_id: string | null;
  error_code: string | null;
  /** Policy decisions of this request, `action:reason` (e.g. `ingest:allowed`); never the token. */
  authz?: string[];
  /** sha256 of the request body of an accepted write, as recorded with its provenance (repudiation). */
  request_sha256?: string;
  /** Pseudonym of the verified token's `sub` (who sent it; src/telemetry/pseudonym.ts); never `sub` or the token. */
  subject_hash?: string | null;
}

/** Whether the tenant's object counted this request for FinOps (set by {@link TenantClient}; else the Worker does). */
export interface UsageMark {
  counted: boolean;
}

/**
 * What one request carries from middleware to routes and resolvers — declared once. The middleware in
 * src/http/app.ts fill it in, in this order: `config` and `switches` (withConfig), `log` and `observations` (requestLogging),
 * `trace` (requestTracing), `usage` (countUsage), `principal` (requireAuth, on routes that need a token).
 */
export interface RequestState {
  config: Config;
  /** The runtime switches in effect (src/switches.ts: at most 5 s old). */
  switches: Switches;
  log: RequestLog;
  observations: Observation[];
  trace: TraceScope;
  usage: UsageMark;
  principal: Principal;
}

/** Hono environment of the app: bindings plus the per-request state. */
export interface AppEnv {
  Bindings: Env;
  Variables: RequestState;
}

/** The request's state with its bindings, as plain data (what GraphQL resolvers and the tenant client get). */
export interface RequestContext extends RequestState {
  env: Env;
}

/** The per-request state of a Hono context (the principal only where `requireAuth` ran). */
export function requestContext(c: Context<AppEnv>): RequestContext {
  return {
    env: c.env,
    config: c.get("config"),
    switches: c.get("switches"),
    log: c.get("log"),
    observations: c.get("observations"),
    trace: c.get("trace"),
    usage: c.get("usage"),
    principal: c.get("principal"),
  };
}

/** A client of `tenantId`'s object that traces its calls and marks usage on this request. */
export function tenantClient(c: Context<AppEnv>, tenantId: string): TenantClient {
  return new TenantClient(
    {
      env: c.env,
      config: c.get("config"),
      usage: c.get("usage"),
      observations: c.get("observations"),
      trace: c.get("trace"),
    },
    tenantId,
  );
}
