// Runs groups of generated fuzz cases against a service with bounded concurrency, and reports: failures with their
// seed and path (replayed and shrunk by fast-check on demand), latencies, the slowest cases, the service's CPU time.
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { pool } from "./send";

/** One group of generated cases: how to run and judge one, and how many the run takes. */
export interface Group<T> {
  name: string;
  /** The arbitrary and seed the cases come from; null for fixed examples (nothing to replay or shrink). */
  arb: fc.Arbitrary<T> | null;
  seed: number;
  cases: T[];
  /** Runs one case; resolves with why it breaks the contract, or null. */
  check: (c: T, index: number) => Promise<string | null>;
}

/** A case that broke the contract: where it came from, why, and the case itself as JSON. */
export interface Failure {
  group: string;
  index: number;
  reason: string;
  json: string;
}

/** Long runs of one character (padding, nesting) cut down, so a reported case stays readable. */
export const shorten = (text: string, max = 1500) =>
  text.replace(/(.)\1{40,}/gs, (run, c: string) => `${c.repeat(8)}…×${run.length}…`).slice(0, max);

/** A group of `count` cases drawn from `arb` with `seed` (the same cases fc.assert would run with that seed). */
export function group<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  seed: number,
  count: number,
  check: Group<T>["check"],
): Group<T> {
  return { name, arb, seed, cases: fc.sample(arb, { seed, numRuns: count }), check };
}

/** The slowest cases seen, and every case's latency by group, to keep the run's time in check. */
export const slowest: Array<{ ms: number; what: string }> = [];
const durations = new Map<string, number[]>();
/** p50/p90/p99 latency (ms) per group. */
export const latencies = () =>
  Object.fromEntries(
    [...durations].map(([name, ms]) => {
      const sorted = [...ms].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      return [name, [at(0.5), at(0.9), at(0.99)]];
    }),
  );

/** Runs a group's cases, `width` at a time, collecting failures (a thrown error is a failure: no answer). */
export async function runGroup<T>(g: Group<T>, width: number, failures: Failure[]): Promise<void> {
  await pool(g.cases, width, async (c, index) => {
    const t0 = performance.now();
    let reason: string | null;
    try {
      reason = await g.check(c, index);
    } catch (err) {
      reason = `no answer: ${err instanceof Error ? `${err.message} ${String(err.cause ?? "")}` : String(err)}`;
    }
    const ms = Math.round(performance.now() - t0);
    const list = durations.get(g.name) ?? [];
    list.push(ms);
    durations.set(g.name, list);
    // Cases can hold megabytes of text: encode one only when it is reported.
    if (reason !== null) failures.push({ group: g.name, index, reason, json: JSON.stringify(c) });
    if (slowest.length < 5 || ms > (slowest.at(-1)?.ms ?? 0)) {
      const json = JSON.stringify(c);
      slowest.push({ ms, what: `${g.name}#${index} (${json.length} B) ${shorten(json, 300)}` });
      slowest.sort((a, b) => b.ms - a.ms).splice(5);
    }
  });
}

/**
 * Replays the first failing case of a group from its seed and path, and lets fast-check shrink it against the
 * running service (sequentially, at most 60 s).
 */
export async function minimize<T>(g: Group<T>, index: number): Promise<string> {
  if (g.arb === null) return shorten(JSON.stringify(g.cases[index]), 4000);
  const details = await fc.check(
    fc.asyncProperty(g.arb, async (c) => (await g.check(c, 0).catch((e: unknown) => String(e))) === null),
    { seed: g.seed, path: String(index), numRuns: g.cases.length, interruptAfterTimeLimit: 60_000 },
  );
  return details.failed ? shorten(JSON.stringify(details.counterexample?.[0]), 4000) : "(did not fail again on replay)";
}

/**
 * CPU seconds the processes of the service started with `stateDir` (wrangler, workerd: one process group) have
 * used so far, from /proc; null
 * where there is no /proc. Wall time on a busy shared machine says little; this says what the fuzzing costs.
 */
export function serviceCpuSeconds(stateDir: string): number | null {
  try {
    const tick = 100; // USER_HZ on Linux
    const stats = readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .flatMap((pid) => {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
          const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from 3 (state) on
          const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
          return [{ pgrp: f[2], cpu: (Number(f[11]) + Number(f[12])) / tick, ours: cmd.includes(stateDir) }];
        } catch {
          return []; // exited meanwhile
        }
      });
    const groups = new Set(stats.filter((x) => x.ours).map((x) => x.pgrp));
    return stats.filter((x) => groups.has(x.pgrp)).reduce((sum, x) => sum + x.cpu, 0);
  } catch {
    return null;
  }
}
