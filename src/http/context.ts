import type { Principal } from "../auth/principal";
import type { Config } from "../config";
import type { Observation } from "../metrics/model";
import type { TraceScope } from "../telemetry/tracer";

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
  /** The verified token's `sub` (who sent it); never the token. */
  subject?: string | null;
}

/** Whether a request was already counted for FinOps by the tenant's object (else the Worker counts a rejection). */
export interface UsageMark {
  counted: boolean;
}

/** Hono environment of the app: bindings plus per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    config: Config;
    principal: Principal;
    log: RequestLog;
    usage: UsageMark;
    /** Metric observations of this request, sent (batched, off the latency path) when it ends. */
    observations: Observation[];
    /** The request's tracer and root span (the no-op span when tracing is off). */
    trace: TraceScope;
  };
}
