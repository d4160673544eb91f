// The harness itself (test/support/): a file whose servers fail to start fails each of its tests with the reason
// (not "skipped"); a process group stops whole; a service that cannot start says why and leaves nothing running.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { freePort, startProcess, startService } from "../support/harness";

const root = resolve(import.meta.dirname, "..", "..");
const run = promisify(execFile);

interface JsonReport {
  numFailedTests: number;
  numPendingTests: number;
  testResults: Array<{ assertionResults: Array<{ title: string; status: string; failureMessages: string[] }> }>;
}

/** Runs one fixture in a vitest of its own (JSON reporter); its exit code and per-test results. */
async function vitestOn(
  fixture: string,
  env: Record<string, string> = {},
): Promise<{ code: number; report: JsonReport }> {
  const out = join(mkdtempSync(join(tmpdir(), "harness-fixture-")), "report.json");
  const args = [
    join(root, "node_modules", "vitest", "vitest.mjs"),
    "run",
    "--config",
    join("test", "e2e", "fixtures", "vitest.config.ts"),
    "--reporter=json",
    `--outputFile.json=${out}`,
    join("test", "e2e", "fixtures", fixture),
  ];
  const code = await run(join(root, "node_modules", ".bin", "node"), args, {
    cwd: root,
    env: { ...process.env, ...env },
  }).then(
    () => 0,
    (err: { code?: number }) => err.code ?? -1,
  );
  const report = JSON.parse(readFileSync(out, "utf8")) as JsonReport;
  rmSync(dirname(out), { recursive: true, force: true });
  return { code, report };
}

/** The processes of group `pgid` still running (zombies waiting for their parent to reap them do not count). */
async function groupMembers(pgid: number): Promise<number[]> {
  const { stdout } = await run("ps", ["-e", "-o", "pid=,pgid=,stat="]);
  return stdout
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter(([, group, stat]) => Number(group) === pgid && !stat?.startsWith("Z"))
    .map(([pid]) => Number(pid));
}

describe("beforeAllOrFail", () => {
  it("fails every test of a file whose set-up throws, quoting the reason", async () => {
    const { code, report } = await vitestOn("setup-fails.fixture.ts");
    expect(code).toBe(1);
    const results = report.testResults.flatMap((f) => f.assertionResults);
    expect(results.map((r) => [r.title, r.status])).toEqual([
      ["first test", "failed"],
      ["second test", "failed"],
    ]);
    for (const r of results) expect(r.failureMessages.join("\n")).toContain("port 7474 in use");
    expect(report.numPendingTests).toBe(0);
  }, 60_000);

  it("fails the tests of a file whose set-up runs out of time, and lets its afterAll see what it started late", async () => {
    const seen = join(mkdtempSync(join(tmpdir(), "harness-fixture-")), "seen");
    const { code, report } = await vitestOn("setup-late.fixture.ts", { FIXTURE_OUT: seen });
    expect(code).toBe(1);
    const results = report.testResults.flatMap((f) => f.assertionResults);
    expect(results.map((r) => r.status)).toEqual(["failed"]);
    expect(results[0]?.failureMessages.join("\n")).toContain("set-up did not finish within 0.5 s");
    expect(readFileSync(seen, "utf8")).toBe("true");
    rmSync(dirname(seen), { recursive: true, force: true });
  }, 60_000);
});

describe("startProcess", () => {
  it("stops the whole process group, children included", async () => {
    const proc = startProcess("sh", ["-c", "sleep 60 & sleep 60 & echo started; wait"]);
    const deadline = Date.now() + 10_000;
    while (!proc.output().includes("started") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(proc.output()).toContain("started");
    expect(await groupMembers(proc.pid)).toHaveLength(3); // sh and its two sleeps
    await proc.stop();
    expect(await groupMembers(proc.pid)).toEqual([]);
  });
});

describe("startService", () => {
  it("rejects with wrangler's output when its port is taken, and leaves no process behind", async () => {
    const port = await freePort();
    // Holds the port; whoever connects (the harness polling /healthz) is hung up on.
    const blocker = createServer((socket) => socket.destroy());
    await new Promise<void>((ok) => blocker.listen(port, "127.0.0.1", ok));
    const mark = `taken-${randomUUID()}`;
    try {
      const failure = await startService({ port, env: { HARNESS_TEST_MARK: mark } }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).toContain(`npm start (port ${port}) did not start`);
      expect((failure as Error).message).toMatch(/in use|EADDRINUSE/i);
      expect(markedProcesses(mark)).toEqual([]);
    } finally {
      await new Promise((ok) => blocker.close(ok));
    }
  }, 90_000);

  it("stops a service that does not answer in time, with everything it started", async () => {
    const mark = `slow-${randomUUID()}`;
    // npm start takes over 2 s to answer here (RUNTIME-NOTES): half a second is never enough.
    const outcome = startService({ timeoutMs: 500, env: { HARNESS_TEST_MARK: mark } }).then(
      async (svc) => {
        await svc.stop();
        return null;
      },
      (err: unknown) => err,
    );
    let settled = false;
    void outcome.then(() => {
      settled = true;
    });
    let seen = 0;
    while (!settled && seen === 0) {
      seen = markedProcesses(mark).length;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen, "npm start was running before the time ran out").toBeGreaterThan(0);
    const failure = await outcome;
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/did not answer 200 within 0\.5 s/);
    expect(markedProcesses(mark)).toEqual([]);
  }, 90_000);
});

/**
 * Live processes (zombies left unreaped do not count) whose environment holds HARNESS_TEST_MARK=`mark`: whatever a
 * start with that setting spawned, orphans included.
 */
function markedProcesses(mark: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8");
      const state = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]?.[0];
      if (state !== "Z" && environ.split("\0").includes(`HARNESS_TEST_MARK=${mark}`)) found.push(Number(entry));
    } catch {
      // ended meanwhile, or not ours to read
    }
  }
  return found;
}
