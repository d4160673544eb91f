// The SLO gate (`npm run slo`, scripts/slo.mjs) end to end: against its own `npm start` it passes and writes
// k6-shaped summaries that .maestro/scripts/parse-k6.js accepts; with every /graphql answer delayed by 800 ms
// (DEBUG_DELAY_MS, a development/test-only setting) it fails, exit 1, naming the metrics over budget.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..", "..");
const outDirs: string[] = [];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.once("error", fail);
    child.once("close", (code) => ok({ code, stdout, stderr }));
  });
}

/** `npm run slo -- …` into a fresh output folder. */
async function gate(args: string[], env: Record<string, string> = {}): Promise<Run & { out: string }> {
  const out = mkdtempSync(join(tmpdir(), "coherence-slo-"));
  outDirs.push(out);
  const r = await run("npm", ["run", "slo", "--", "--out", out, ...args], env);
  return { ...r, out };
}

const parseK6 = (file: string, ...budget: string[]) =>
  run(join(root, "node_modules", ".bin", "node"), [join(root, ".maestro", "scripts", "parse-k6.js"), file, ...budget]);

interface Summary {
  metrics: Record<
    string,
    { type: string; values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }
  >;
  state: { testRunDurationMs: number };
}
const readSummary = (file: string): Summary => JSON.parse(readFileSync(file, "utf8")) as Summary;

afterAll(() => {
  for (const d of outDirs) rmSync(d, { recursive: true, force: true });
});

describe("SLO gate (npm run slo)", () => {
  it("passes against npm start and writes k6-shaped summaries that parse-k6.js accepts", async () => {
    const r = await gate(["--duration", "5"]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain("SLO OK");

    for (const [file, budget] of [
      ["read_p95.json", 350],
      ["write_p95.json", 700],
    ] as const) {
      const s = readSummary(join(r.out, file));
      const duration = s.metrics.http_req_duration;
      expect(duration?.type).toBe("trend");
      expect(duration?.values["p(95)"]).toBeGreaterThan(0);
      expect(duration?.values["p(95)"]).toBeLessThanOrEqual(budget);
      expect(duration?.thresholds?.[`p(95)<=${budget}`]?.ok).toBe(true);
      expect(s.metrics.http_reqs?.values.count).toBeGreaterThan(20);
      expect(s.metrics.http_req_failed?.values).toMatchObject({ rate: 0, passes: 0 });
      expect(s.state.testRunDurationMs).toBeGreaterThan(4000);
      const cli = await parseK6(join(r.out, file), "--p95", String(budget), "--errorRate", "0.1");
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toContain("SLO OK");
    }
    // The combined summary carries each workload as a k6 tagged submetric.
    const all = readSummary(join(r.out, "error_rate.json"));
    const reads = all.metrics["http_reqs{scenario:read}"]?.values.count ?? 0;
    const writes = all.metrics["http_reqs{scenario:write}"]?.values.count ?? 0;
    expect(all.metrics.http_reqs?.values.count).toBe(reads + writes);
    expect((await parseK6(join(r.out, "error_rate.json"), "--errorRate", "0.1")).code).toBe(0);
  }, 240_000);

  it("fails, naming the metric, when every /graphql answer is 800 ms late (DEBUG_DELAY_MS)", async () => {
    const r = await gate(["--duration", "4", "--warmup", "1"], { DEBUG_DELAY_MS: "800" });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stderr).toMatch(/^FAIL write p95 \d+(\.\d+)?ms > 700ms$/m);
    expect(r.stderr).toMatch(/^FAIL read p95 \d+(\.\d+)?ms > 350ms$/m);
    expect(r.stdout).not.toContain("SLO OK");
    // No request failed: the gate fails on latency alone.
    expect(r.stderr).not.toMatch(/FAIL \w+ error/);

    const write = readSummary(join(r.out, "write_p95.json"));
    expect(write.metrics.http_req_duration?.values.min).toBeGreaterThanOrEqual(800);
    expect(write.metrics.http_req_duration?.thresholds?.["p(95)<=700"]?.ok).toBe(false);
    const cli = await parseK6(join(r.out, "write_p95.json"), "--p95", "700", "--errorRate", "0.1");
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^FAIL p95 \d+(\.\d+)?ms > 700ms$/m);
  }, 240_000);
});
