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
  /** Raw body hash, recorded as the provenance request hash of mutations. */
  bodyHash: string;
  receivedAtMs: number;
}
