import type { Principal } from "../auth/principal";
import type { Config } from "../config";
import type { RequestLog, UsageMark } from "../http/context";
import type { Observation } from "../metrics/model";
import type { TraceScope } from "../telemetry/tracer";

/** What every resolver receives besides yoga's own fields. */
export interface GraphQLServerContext {
  env: Env;
  config: Config;
  principal: Principal;
  log: RequestLog;
  usage: UsageMark;
  observations: Observation[];
  /** The request's tracer and root span. */
  trace?: TraceScope;
  /** POST: the JSON body the route parsed (yoga does not read the body again). Absent for GET. */
  parsedBody?: unknown;
  /** The raw body (empty for GET); mutations record its sha256 as the provenance request hash. */
  body: Uint8Array<ArrayBuffer>;
  receivedAtMs: number;
}
