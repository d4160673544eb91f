// `npm run canary:check` against two local instances of `npm start` as a user runs it (docs/deploy.md, "Gradual
// deployment"): a stable version, and a canary that is either as good or slower than the read SLO
// (DEBUG_DELAY_MS). Both take the same read traffic while the check watches; its verdict and exit code are judged.
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { mintToken, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";
import { graphql, newTenant } from "./helpers";

const root = resolve(import.meta.dirname, "..", "..");
const run = promisify(execFile);

let stable: RunningService;
let slow: RunningService;

beforeAllOrFail(async () => {
  [stable, slow] = await Promise.all([
    startService({ env: { RPS_MAX: "100000" } }),
    // 400 ms on every GraphQL answer: every read misses the 350 ms p95.
    startService({ env: { RPS_MAX: "100000", DEBUG_DELAY_MS: "400" } }),
  ]);
}, 300_000);

afterAll(async () => {
  await Promise.all([stable?.stop(), slow?.stop()]);
});

/** Persisted reads against each URL from 4 loops each, until `stopAt`; returns how many each answered 200. */
async function readLoad(urls: string[], stopAt: number): Promise<number[]> {
  const tenant = newTenant("canary");
  const token = await mintToken(tenant, "coherence:read");
  return Promise.all(
    urls.map(async (url) => {
      let ok = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (Date.now() < stopAt) {
            const res = await graphql(url, { id: "pq_tenant_coherence_v1", variables: { tenantId: tenant } }, token);
            if (res.status === 200) ok++;
          }
        }),
      );
      return ok;
    }),
  );
}

async function canaryCheck(baseline: string, canary: string, windowSeconds: number) {
  const args = ["run", "--silent", "canary:check", "--", "--baseline", baseline, "--canary", canary];
  args.push("--window", String(windowSeconds), "--min-requests", "20");
  try {
    const { stdout } = await run("npm", args, { cwd: root });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("npm run canary:check (issue 15)", () => {
  it("rolls back a canary slower than the read SLO, with the reason", async () => {
    const window = 8;
    const checking = canaryCheck(stable.baseUrl, slow.baseUrl, window);
    // The check scrapes first; traffic starts just after and outlasts the window.
    await new Promise((r) => setTimeout(r, 1500));
    const [stableReads, slowReads] = await readLoad([stable.baseUrl, slow.baseUrl], Date.now() + (window + 1) * 1000);
    const verdict = await checking;
    expect(stableReads).toBeGreaterThan(20);
    expect(slowReads).toBeGreaterThan(20);
    expect(verdict.code, verdict.out).toBe(1);
    expect(verdict.out).toMatch(/ROLL BACK: read p95 \d+ ms > 350 ms/);
  });

  it("promotes a canary that keeps every SLO rule", async () => {
    const window = 6;
    // The stable instance plays both parts: same code, same traffic, so nothing breaks a rule.
    const checking = canaryCheck(stable.baseUrl, stable.baseUrl, window);
    await new Promise((r) => setTimeout(r, 1500));
    await readLoad([stable.baseUrl], Date.now() + (window + 1) * 1000);
    const verdict = await checking;
    expect(verdict.code, verdict.out).toBe(0);
    expect(verdict.out).toContain("PROMOTE");
    expect(verdict.out).toMatch(/canary: +\d+ requests, errors 0\.000 %/);
  });

  it("says inconclusive rather than promote when the canary saw too little traffic", async () => {
    const verdict = await canaryCheck(stable.baseUrl, slow.baseUrl, 1);
    expect(verdict.code, verdict.out).toBe(3);
    expect(verdict.out).toContain("INCONCLUSIVE");
  });
});
