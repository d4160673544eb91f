import type { Config } from "../src/config";
import type { MetricsBuffer } from "../src/metrics/collect";
import type { FlushScheduler } from "./flush-scheduler";
import type { UsageMeter } from "./usage-meter";

/**
 * What every part of a tenant's object shares, settled once when the object starts (in the constructor's
 * `blockConcurrencyWhile`): whom it serves, its settings, its storage, its clock and its timers.
 */
export interface TenantContext {
  /** The tenant this object serves: the name it is addressed by. */
  readonly tenantId: string;
  readonly config: Config;
  /** The object's state: storage, sockets, `waitUntil`. */
  readonly state: DurableObjectState;
  readonly sql: SqlStorage;
  /** The object's clock (tests inject one to drive time without sleeping). */
  now(): number;
  /** Sub-second coalescing timers (the only timers besides the alarm). */
  readonly timers: FlushScheduler;
  /** The object's own metric observations (never a Worker request's buffer). */
  readonly metrics: MetricsBuffer;
  /** FinOps: billable units counted where they happen (frames, queue chunks, rows, time held). */
  readonly meter: UsageMeter;
}

/**
 * A part of the tenant's object with work that falls due: the object arms its one alarm for the earliest
 * {@link nextDueAt} of its parts and, when it fires, calls every part's {@link onAlarm}.
 */
export interface TenantPart {
  /** When this part next has work due (epoch ms), or `null`. Called after every call into the object: cheap. */
  nextDueAt(): number | null;
  /** Does the work due at `nowMs`. A throw makes the runtime retry the alarm. */
  onAlarm(nowMs: number): void | Promise<void>;
}
