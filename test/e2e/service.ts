// Harness for end-to-end tests: runs `npm start` on a free port with its own state directory, and mints
// tokens with `npm run token`, exactly as a user would.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { logGuardReport } from "../support/log-guard";

const root = resolve(import.meta.dirname, "..", "..");
const run = promisify(execFile);

/** A free loopback TCP port. */
export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

/** A fresh directory for one service's persisted state. */
export function tempStateDir(): string {
  return mkdtempSync(join(tmpdir(), "coherence-e2e-"));
}

export interface RunningService {
  baseUrl: string;
  port: number;
  stateDir: string;
  /** Everything the service printed (stdout and stderr), for log assertions. */
  output: () => string;
  /** Throws, quoting them, when the service has printed error lines so far (the log guard). */
  checkLog: () => void;
  /** Stops the service, then applies the log guard: a run that printed an uncaught error has failed. */
  stop: () => Promise<void>;
}

/** Options of {@link startService}. */
export interface ServiceOptions {
  port?: number;
  stateDir?: string;
  env?: Record<string, string>;
  /** Error lines this test causes on purpose (matched against each flagged line); everything else fails it. */
  allowLogLines?: RegExp[];
}

/**
 * Starts `npm start` and waits until `/healthz` answers. Two services starting at once can race for one of
 * wrangler's internal loopback ports ("Address already in use"); that start is retried on fresh ports.
 */
export async function startService(opts: ServiceOptions = {}): Promise<RunningService> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServiceOnce(opts);
    } catch (err) {
      const clash = err instanceof Error && err.message.includes("Address already in use");
      if (!clash || attempt >= 3 || opts.port !== undefined) throw err;
    }
  }
}

async function startServiceOnce(opts: ServiceOptions = {}): Promise<RunningService> {
  const port = opts.port ?? (await freePort());
  const stateDir = opts.stateDir ?? tempStateDir();
  let output = "";
  const child: ChildProcess = spawn("npm", ["start"], {
    cwd: root,
    env: { ...process.env, PORT: String(port), COHERENCE_STATE_DIR: stateDir, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // own process group, so stop() ends wrangler and workerd too
  });
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const checkLog = () => {
    const report = logGuardReport(output, opts.allowLogLines ?? []);
    if (report) throw new Error(`log guard (PORT ${port}): ${report}`);
  };
  const stop = async () => {
    await halt();
    checkLog();
  };
  const halt = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((ok) => child.once("exit", ok));
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), "SIGKILL");
      } catch {}
    }, 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    try {
      const res = await fetch(`${baseUrl}/healthz`);
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      await halt();
      throw new Error(`service did not become healthy:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { baseUrl, port, stateDir, output: () => output, checkLog, stop };
}

/** Mints a dev JWT through `npm run token`, as the contract documents. */
export async function mintToken(tenant: string, scope: string, extra: string[] = []): Promise<string> {
  const { stdout } = await run("npm", ["run", "token", "--", "--tenant", tenant, "--scope", scope, ...extra], {
    cwd: root,
  });
  const lines = stdout.split("\n").filter((l) => l.length > 0);
  if (lines.length !== 1) throw new Error(`npm run token printed ${lines.length} lines on stdout`);
  return lines[0] as string;
}

/** JSON POST helper returning status, headers and parsed body. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body: parsed };
}
