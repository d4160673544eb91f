/**
 * Retention by policy (`POLICY_RETENTION`, the seed's `standard-365d`, `short-30d`, any `<name>-<N>d`): how long
 * data rests in every store — Neo4j's signals, Postgres's provenance ledger, the FinOps counters in Upstash and the
 * dead letters (docs/api.md §7). Tenant objects keep at most a day, below any policy.
 */

/** Shortest and longest retention a policy may name. */
export const MIN_RETENTION_DAYS = 1;
export const MAX_RETENTION_DAYS = 3650;

const POLICY = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*-(\d{1,4})d$/;

/** The days `policy` names, or an explanation of why it names none. */
export function parseRetention(policy: string): { ok: true; days: number } | { ok: false; message: string } {
  const m = POLICY.exec(policy.trim());
  if (!m) {
    return { ok: false, message: `"${policy}" is not <name>-<days>d (e.g. standard-365d, short-30d)` };
  }
  const days = Number(m[1]);
  if (days < MIN_RETENTION_DAYS || days > MAX_RETENTION_DAYS) {
    return { ok: false, message: `${days} days is outside ${MIN_RETENTION_DAYS}..${MAX_RETENTION_DAYS}` };
  }
  return { ok: true, days };
}

/** The instant before which data of this retention is removed, as of `nowMs`. */
export function retentionCutoffMs(nowMs: number, days: number): number {
  return nowMs - days * 86_400_000;
}
