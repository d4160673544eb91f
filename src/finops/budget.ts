import budgetFile from "../../.maestro/ci_budget.json";

/** A budget in USD for one tenant, per UTC day and per calendar month. */
export interface TenantBudget {
  dailyUsd: number;
  monthlyUsd: number;
}

/** Fractions of a budget at which one alert is raised (seed: warning 0.8, critical 0.95). */
export interface Thresholds {
  warning: number;
  critical: number;
}

export type AlertLevel = keyof Thresholds;

interface BudgetFile {
  thresholds: Thresholds;
  environments: Record<
    string,
    { dailyUsd: number; monthlyUsd: number; tenantDailyUsd: number; tenantMonthlyUsd: number }
  >;
}

const file = budgetFile as BudgetFile;

export const THRESHOLDS: Thresholds = file.thresholds;

/** The per-tenant budget of an environment (`.maestro/ci_budget.json`); `override` replaces the daily figure. */
export function tenantBudget(environment: string, dailyOverrideUsd: number | null = null): TenantBudget {
  const env = file.environments[environment] ?? file.environments.production;
  if (!env) throw new Error(".maestro/ci_budget.json has no production environment");
  return { dailyUsd: dailyOverrideUsd ?? env.tenantDailyUsd, monthlyUsd: env.tenantMonthlyUsd };
}

/**
 * The environment's own budget (`dailyUsd`/`monthlyUsd` of `.maestro/ci_budget.json`), evaluated on every tenant's
 * total plus the fixed costs; `dailyOverrideUsd` is the seed's `CONDUCTOR_BUDGET_DAILY_USD`.
 */
export function environmentBudget(environment: string, dailyOverrideUsd: number | null = null): TenantBudget {
  const env = file.environments[environment] ?? file.environments.production;
  if (!env) throw new Error(".maestro/ci_budget.json has no production environment");
  return { dailyUsd: dailyOverrideUsd ?? env.dailyUsd, monthlyUsd: env.monthlyUsd };
}

/**
 * The alert levels `costUsd` has reached against `budgetUsd` that are not in `alreadyRaised`, lowest first.
 * Pure: the caller remembers what it raised, so each level is raised once per tenant and period.
 */
export function newlyCrossed(
  costUsd: number,
  budgetUsd: number,
  alreadyRaised: ReadonlySet<AlertLevel>,
  thresholds: Thresholds = THRESHOLDS,
): AlertLevel[] {
  if (!(budgetUsd > 0)) return [];
  const out: AlertLevel[] = [];
  for (const level of ["warning", "critical"] as const) {
    if (costUsd >= thresholds[level] * budgetUsd && !alreadyRaised.has(level)) out.push(level);
  }
  return out;
}
