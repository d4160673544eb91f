import type { Redis } from "@upstash/redis/cloudflare";
import { AppError } from "../errors";
import {
  estimatedCostUsd,
  PRICES,
  type Prices,
  roundUsd,
  UNITS,
  type UnitCounts,
  unitWeights,
  zeroUnits,
} from "./cost-model";
import { USAGE_OPS, type UsageOp } from "./usage";

/**
 * The all-tenant FinOps overview (docs/api.md §4.6.1), served from Upstash alone: no tenant object is woken.
 *
 * Layout. Each tenant's object pushes a day's counters with one script ({@link PUSH_SCRIPT}) that, atomically and
 * idempotently (a push carries the object's change sequence; an older or repeated one changes nothing), sets the
 * tenant-day hash, moves the day's and the month's totals by the difference, and records the tenant's value of
 * each overview field in that day's sorted set for the field. It then evaluates the environment's budget on the
 * new totals and records a crossing at most once per period and level (HSETNX), returning the crossings this tenant
 * recorded and has not yet confirmed, so the object logs each exactly once.
 *
 * Reads. The first page of a range builds a snapshot ({@link PAGE_SCRIPT}): per field, the union of the days' sets
 * (a tenant's sum over the range), the cost ranking as the weighted union of those (the model is linear, so the
 * cost of a sum is the weighted sum of counters), and the totals — in one script, so the snapshot is one instant
 * of the store. Pages are read from the snapshot (10 minutes), so concurrent writes never move a tenant across a
 * page boundary: no tenant is repeated or skipped. Every page is one command.
 */

/** The counters the overview lists per tenant (the zsets' fields). `u:<unit>` are the billable units. */
export const OVERVIEW_FIELDS = [...USAGE_OPS, "signals", "rejected", ...UNITS.map((u) => `u:${u}`)] as const;
/** How long a snapshot (and so a cursor) lives. */
export const SNAPSHOT_TTL_S = 600;
/** Longest range one overview may span (each day is one set per field in the snapshot's build). */
export const MAX_OVERVIEW_DAYS = 92;
export const MAX_PAGE = 500;
export const DEFAULT_PAGE = 50;

export const dayTotalsKey = (period: string) => `usage-total:v1:${period}`;
export const dayFieldKey = (day: string, field: string) => `usage-rank:v1:${day}:${field}`;
/** Environment budget alerts of a period: not under `budget-alerts:v1:` (a tenant may be named anything). */
export const envAlertKey = (period: string) => `env-budget-alerts:v1:${period}`;
const viewKey = (id: string, part: string) => `finops-view:v1:${id}:${part}`;

/** The cost weight of each overview field (USD per unit; request counts are not priced themselves). */
export function fieldWeights(weights: UnitCounts = unitWeights()): number[] {
  return OVERVIEW_FIELDS.map((f) => (f.startsWith("u:") ? weights[f.slice(2) as keyof UnitCounts] : 0));
}

// Lua: KEYS = tenant-day hash, day totals, month totals, env alerts (day), env alerts (month), one set per field.
// ARGV = tenant, seq, expireAt, monthExpireAt, confirmedSeq, fixedDayUsd, dayOfMonth, dayBudget, monthBudget,
// warning, critical, nHash, nHash × (field, value), nFields × (field, weight).
export const PUSH_SCRIPT = `
local tenant = ARGV[1]
local seq = tonumber(ARGV[2])
local confirmed = tonumber(ARGV[5])
local n = tonumber(ARGV[12])
local F = #KEYS - 5
local wbase = 12 + 2 * n
local cur = tonumber(redis.call('HGET', KEYS[1], '_seq') or '0')
if seq > cur then
  local vals = {}
  local flat = {'_seq', ARGV[2]}
  for i = 0, n - 1 do
    local f = ARGV[13 + 2 * i]
    local v = ARGV[14 + 2 * i]
    vals[f] = v
    flat[#flat + 1] = f
    flat[#flat + 1] = v
  end
  for j = 1, F do
    local name = ARGV[wbase + 2 * j - 1]
    local v = tonumber(vals[name] or '0')
    local old = tonumber(redis.call('HGET', KEYS[1], name) or '0')
    if v ~= old then
      redis.call('HINCRBY', KEYS[2], name, v - old)
      redis.call('HINCRBY', KEYS[3], name, v - old)
    end
    if v ~= 0 or old ~= 0 then
      redis.call('ZADD', KEYS[5 + j], v, tenant)
      redis.call('EXPIREAT', KEYS[5 + j], ARGV[3])
    end
  end
  redis.call('HSET', KEYS[1], unpack(flat))
  redis.call('EXPIREAT', KEYS[1], ARGV[3])
  redis.call('EXPIREAT', KEYS[2], ARGV[3])
  redis.call('EXPIREAT', KEYS[3], ARGV[4])
end
local function cost(key, fixed)
  local c = fixed
  for j = 1, F do
    local w = tonumber(ARGV[wbase + 2 * j])
    if w ~= 0 then c = c + w * tonumber(redis.call('HGET', key, ARGV[wbase + 2 * j - 1]) or '0') end
  end
  return c
end
local fixed = tonumber(ARGV[6])
local checks = {
  {KEYS[4], cost(KEYS[2], fixed), tonumber(ARGV[8]), 'day', ARGV[3]},
  {KEYS[5], cost(KEYS[3], fixed * tonumber(ARGV[7])), tonumber(ARGV[9]), 'month', ARGV[4]},
}
local levels = {{'warning', tonumber(ARGV[10])}, {'critical', tonumber(ARGV[11])}}
local out = {}
for _, chk in ipairs(checks) do
  local key, c, budget = chk[1], chk[2], chk[3]
  if budget > 0 then
    for _, lv in ipairs(levels) do
      if c >= lv[2] * budget then
        if redis.call('HSETNX', key, lv[1], tenant .. '|' .. ARGV[2] .. '|' .. string.format('%.10f', c) .. '|' .. chk[3]) == 1 then
          redis.call('EXPIREAT', key, chk[5])
        end
      end
      local v = redis.call('HGET', key, lv[1])
      if v then
        local t, s, c2, b = string.match(v, '^(.*)|(%d+)|([^|]+)|([^|]+)$')
        if t == tenant and tonumber(s) > confirmed then
          out[#out + 1] = chk[4] .. '|' .. lv[1] .. '|' .. c2 .. '|' .. b
        end
      end
    end
  end
end
return out
`;

// Lua: KEYS = view cost set, F view field sets, view totals hash, D×F day field sets (day-major), D day totals.
// ARGV = F, D, ttl, offset, limit, mustExist, F × weight, F × field name.
export const PAGE_SCRIPT = `
local F = tonumber(ARGV[1])
local D = tonumber(ARGV[2])
local off = tonumber(ARGV[4])
local lim = tonumber(ARGV[5])
local totalsKey = KEYS[2 + F]
if redis.call('EXISTS', totalsKey) == 0 then
  if ARGV[6] == '1' then return {-1} end
  local base = 2 + F
  for j = 1, F do
    local srcs = {}
    for d = 0, D - 1 do srcs[#srcs + 1] = KEYS[base + d * F + j] end
    redis.call('ZUNIONSTORE', KEYS[1 + j], #srcs, unpack(srcs))
  end
  local args = {KEYS[1], F}
  for j = 1, F do args[#args + 1] = KEYS[1 + j] end
  args[#args + 1] = 'WEIGHTS'
  for j = 1, F do args[#args + 1] = ARGV[6 + j] end
  redis.call('ZUNIONSTORE', unpack(args))
  local tot = {}
  for d = 1, D do
    local h = redis.call('HGETALL', KEYS[base + D * F + d])
    for i = 1, #h, 2 do tot[h[i]] = (tot[h[i]] or 0) + tonumber(h[i + 1]) end
  end
  local flat = {'_built', '1'}
  for k, v in pairs(tot) do
    flat[#flat + 1] = k
    flat[#flat + 1] = string.format('%.0f', v)
  end
  redis.call('HSET', totalsKey, unpack(flat))
  for k = 1, 2 + F do redis.call('EXPIRE', KEYS[k], ARGV[3]) end
end
local page = redis.call('ZRANGE', KEYS[1], off, off + lim - 1, 'WITHSCORES')
local ids = {}
for i = 1, #page, 2 do ids[#ids + 1] = page[i] end
local fields = {}
if #ids > 0 then
  for j = 1, F do fields[j] = redis.call('ZMSCORE', KEYS[1 + j], unpack(ids)) end
end
return {1, ids, fields, redis.call('HGETALL', totalsKey), redis.call('ZCARD', KEYS[1])}
`;

/** What a tenant-day push sends: the hash fields and the budget settings to evaluate. */
export interface DayPush {
  tenantId: string;
  day: string;
  seq: number;
  confirmedSeq: number;
  fields: Record<string, number>;
  expireAtS: number;
  monthExpireAtS: number;
  fixedDailyUsd: number;
  budget: { dailyUsd: number; monthlyUsd: number; warning: number; critical: number };
}

/** The keys and arguments of {@link PUSH_SCRIPT} for one tenant-day. */
export function pushArgs(p: DayPush, weights: number[] = fieldWeights()): { keys: string[]; args: string[] } {
  const month = p.day.slice(0, 7);
  const keys = [
    `usage:v1:${p.tenantId}:${p.day}`,
    dayTotalsKey(p.day),
    dayTotalsKey(month),
    envAlertKey(p.day),
    envAlertKey(month),
    ...OVERVIEW_FIELDS.map((f) => dayFieldKey(p.day, f)),
  ];
  const pairs = Object.entries(p.fields);
  const args = [
    p.tenantId,
    String(p.seq),
    String(p.expireAtS),
    String(p.monthExpireAtS),
    String(p.confirmedSeq),
    String(p.fixedDailyUsd),
    String(Number(p.day.slice(8, 10))),
    String(p.budget.dailyUsd),
    String(p.budget.monthlyUsd),
    String(p.budget.warning),
    String(p.budget.critical),
    String(pairs.length),
    ...pairs.flatMap(([f, v]) => [f, String(v)]),
    ...OVERVIEW_FIELDS.flatMap((f, i) => [f, String(weights[i] ?? 0)]),
  ];
  return { keys, args };
}

/** An environment budget crossing returned by a push: `period|level|costUsd|budgetUsd`. */
export interface EnvCrossing {
  period: "day" | "month";
  level: "warning" | "critical";
  costUsd: number;
  budgetUsd: number;
}

export function parseCrossings(reply: unknown): EnvCrossing[] {
  if (!Array.isArray(reply)) return [];
  const out: EnvCrossing[] = [];
  for (const item of reply) {
    const [period, level, cost, budget] = String(item).split("|");
    if ((period === "day" || period === "month") && (level === "warning" || level === "critical")) {
      out.push({ period, level, costUsd: Number(cost), budgetUsd: Number(budget) });
    }
  }
  return out;
}

/** One tenant's line of the overview. */
export interface OverviewTenant {
  tenantId: string;
  requests: Record<UsageOp, number>;
  signals: number;
  rejected: number;
  units: UnitCounts;
  estimatedCostUsd: number;
}

export interface OverviewPage {
  from: string;
  to: string;
  tenants: OverviewTenant[];
  totals: Omit<OverviewTenant, "tenantId"> & {
    tenants: number;
    fixedCostUsd: number;
    totalCostUsd: number;
  };
  nextCursor: string | null;
}

interface CursorBody {
  v: 1;
  id: string;
  off: number;
  from: string;
  to: string;
}

export function encodeCursor(c: CursorBody): string {
  return btoa(JSON.stringify(c)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The cursor's snapshot and offset; 400 BAD_CURSOR when it is not ours or belongs to another range. */
export function decodeCursor(cursor: string, from: string, to: string): CursorBody {
  try {
    const raw: unknown = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")));
    if (raw !== null && typeof raw === "object") {
      const c = raw as Record<string, unknown>;
      if (
        c.v === 1 &&
        typeof c.id === "string" &&
        /^[0-9a-f-]{36}$/.test(c.id) &&
        Number.isInteger(c.off) &&
        (c.off as number) >= 0 &&
        c.from === from &&
        c.to === to
      ) {
        return { v: 1, id: c.id, off: c.off as number, from, to };
      }
    }
  } catch {
    // fall through
  }
  throw new AppError(400, "BAD_CURSOR", "malformed cursor, or one from another from/to range");
}

function lineFrom(get: (field: string) => number, prices: Prices): Omit<OverviewTenant, "tenantId"> {
  const requests = Object.fromEntries(USAGE_OPS.map((op) => [op, get(op)])) as Record<UsageOp, number>;
  const units = zeroUnits();
  for (const u of UNITS) units[u] = get(`u:${u}`);
  return {
    requests,
    signals: get("signals"),
    rejected: get("rejected"),
    units,
    estimatedCostUsd: estimatedCostUsd(units, prices),
  };
}

const num = (v: unknown) => {
  const n = Number(v ?? 0);
  return Number.isFinite(n) ? n : 0;
};

/**
 * One page of the overview over `days` (one command to Upstash). `cursor` null starts a new snapshot.
 * `fixedDailyUsd` is the environment's fixed cost per day (stores' hourly figures), reported beside the tenants'.
 */
export async function readOverview(
  redis: Redis,
  days: readonly string[],
  opts: { cursor: string | null; limit: number; prices?: Prices; fixedDailyUsd: number; newId: () => string },
): Promise<OverviewPage> {
  const from = days[0] as string;
  const to = days[days.length - 1] as string;
  const c = opts.cursor ? decodeCursor(opts.cursor, from, to) : { v: 1 as const, id: opts.newId(), off: 0, from, to };
  const F = OVERVIEW_FIELDS.length;
  const keys = [
    viewKey(c.id, "cost"),
    ...OVERVIEW_FIELDS.map((f) => viewKey(c.id, f)),
    viewKey(c.id, "totals"),
    ...days.flatMap((d) => OVERVIEW_FIELDS.map((f) => dayFieldKey(d, f))),
    ...days.map((d) => dayTotalsKey(d)),
  ];
  const prices = opts.prices ?? PRICES;
  const weights = fieldWeights(unitWeights(prices));
  const args = [
    String(F),
    String(days.length),
    String(SNAPSHOT_TTL_S),
    String(c.off),
    String(opts.limit),
    opts.cursor ? "1" : "0",
    ...weights.map((w) => String(-w)),
    ...OVERVIEW_FIELDS,
  ];
  const reply = (await redis.eval(PAGE_SCRIPT, keys, args)) as unknown[];
  if (!Array.isArray(reply) || num(reply[0]) !== 1) {
    throw new AppError(400, "CURSOR_EXPIRED", `the overview's snapshot is gone (${SNAPSHOT_TTL_S} s); start again`);
  }
  const ids = (reply[1] as unknown[]).map(String);
  const fields = reply[2] as unknown[][];
  const totalsFlat = reply[3] as unknown[];
  const count = num(reply[4]);
  const tenants = ids.map((tenantId, i) => {
    const index = new Map(OVERVIEW_FIELDS.map((f, j) => [f as string, num(fields[j]?.[i])]));
    return { tenantId, ...lineFrom((f) => index.get(f) ?? 0, prices) };
  });
  const totalsHash = new Map<string, number>();
  for (let i = 0; i + 1 < totalsFlat.length; i += 2) totalsHash.set(String(totalsFlat[i]), num(totalsFlat[i + 1]));
  const sum = lineFrom((f) => totalsHash.get(f) ?? 0, prices);
  const fixedCostUsd = roundUsd(opts.fixedDailyUsd * days.length);
  const next = c.off + ids.length;
  return {
    from,
    to,
    tenants,
    totals: {
      tenants: count,
      ...sum,
      fixedCostUsd,
      totalCostUsd: roundUsd(sum.estimatedCostUsd + fixedCostUsd),
    },
    nextCursor: next < count && ids.length > 0 ? encodeCursor({ ...c, off: next }) : null,
  };
}

/** CSV columns of the overview (one row per tenant; the last page ends with the totals as tenant `*`). */
export const CSV_COLUMNS = ["tenantId", ...USAGE_OPS, "signals", "rejected", ...UNITS, "estimatedCostUsd"] as const;

/** The page as CSV (RFC 4180; tenant ids need no quoting: [A-Za-z0-9._:-]). */
export function overviewCsv(page: OverviewPage): string {
  const row = (id: string, t: Omit<OverviewTenant, "tenantId">) =>
    [
      id,
      ...USAGE_OPS.map((op) => t.requests[op]),
      t.signals,
      t.rejected,
      ...UNITS.map((u) => t.units[u]),
      t.estimatedCostUsd,
    ].join(",");
  const lines = [CSV_COLUMNS.join(","), ...page.tenants.map((t) => row(t.tenantId, t))];
  if (page.nextCursor === null) lines.push(row("*", page.totals));
  return `${lines.join("\r\n")}\r\n`;
}
