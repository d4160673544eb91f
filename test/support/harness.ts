// The test harness: starts the service (`npm start`) or another Worker under the project's wrangler in a process
// group of its own, waits until it answers, keeps what it printed for the log guard, and mints dev tokens with
// `npm run token`, as a user would. The e2e and browser tests (through vitest), the benchmarks and the SLO gate
// (plain Node 22, which strips the types) all start services here; so this file, like log-guard.ts, keeps to
// erasable TypeScript and imports with file extensions.
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { root, toolEnv, wranglerDevCommand } from "../../scripts/lib/env.mjs";
import { freePort } from "../../scripts/lib/net.mjs";
import { logGuardReport } from "./log-guard.ts";
import { type GroupProcess, startProcess, waitForOk } from "./process-group.ts";

export type { GroupProcess };
export { freePort, startProcess };

const run = promisify(execFile);

/** A Worker served on loopback, started and answering. */
export interface RunningWorker {
  baseUrl: string;
  port: number;
  /** The process group's id (npm or wrangler leads it; workerd is in it). */
  pid: number;
  /** Everything it printed so far (stdout and stderr). */
  output: () => string;
  logFile: string | null;
  /** The log guard's report on the output so far, or `null` when it printed no error line. */
  logReport: () => string | null;
  /** Throws, quoting them, when it has printed error lines so far (the log guard). */
  checkLog: () => void;
  /** Stops it, then applies the log guard (once): a run that printed an uncaught error has failed. */
  stop: () => Promise<void>;
  /** Stops it without judging the output (the bench and the SLO gate report the log guard themselves). */
  halt: () => Promise<void>;
}

export interface RunningService extends RunningWorker {
  stateDir: string;
  /** The dev OpenID Provider `npm start` runs beside it (`idp: true`), or `null`. */
  idp: { issuer: string; dir: string } | null;
}

interface Judged {
  /** Error lines the caller causes on purpose (matched against each flagged line); any other fails it. */
  allowLogLines?: RegExp[];
  /** How long it may take to answer (default 90 s). */
  timeoutMs?: number;
  /** Its output goes to this file instead of memory. */
  logFile?: string;
}

/** The handle of a started Worker: its address, its output and the log guard over it. */
function workerHandle(proc: GroupProcess, port: number, opts: Judged): RunningWorker {
  let judged = false;
  const logReport = () => logGuardReport(proc.output(), opts.allowLogLines ?? []);
  const checkLog = () => {
    const report = logReport();
    if (report) throw new Error(`log guard (port ${port}): ${report}`);
  };
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    pid: proc.pid,
    output: proc.output,
    logFile: proc.logFile,
    logReport,
    checkLog,
    halt: proc.stop,
    stop: async () => {
      if (judged) return proc.stop();
      judged = true;
      await proc.stop();
      checkLog();
    },
  };
}

/** Waits until `url` answers 200; otherwise stops the process and throws, naming `what`. */
async function answering(proc: GroupProcess, url: string, what: string, timeoutMs?: number): Promise<void> {
  try {
    await waitForOk(url, proc, timeoutMs);
  } catch (err) {
    await proc.stop();
    throw new Error(`${what} did not start: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A fresh directory for one service's persisted state. */
export function tempStateDir(): string {
  return mkdtempSync(join(tmpdir(), "coherence-e2e-"));
}

/** Options of {@link startService}. */
export interface ServiceOptions extends Judged {
  /** Default: a free port. */
  port?: number;
  /** Where its objects (and the local Upstash) keep state. Default: a fresh temporary directory. */
  stateDir?: string;
  /** Settings that win over this process's environment. */
  env?: Record<string, string>;
  /** Settings this process's environment may override (e.g. the bench's LOG_LEVEL=warn). */
  defaults?: Record<string, string>;
  /**
   * Runs the dev OpenID Provider beside it, as `npm start` does for a user (a free IDP_PORT, its keys under the
   * state directory), and the Worker trusts only the IdP. `{ port }` runs it on that port (a restart that must keep
   * the issuer its clients know). Default: no IdP (IDP=off), the Worker trusts the dev key.
   */
  idp?: boolean | { port: number };
}

/**
 * Starts `npm start` (PORT, COHERENCE_STATE_DIR and the settings given) and waits until `/healthz` answers. Two
 * services starting at once can race for one of wrangler's internal loopback ports ("Address already in use");
 * such a start is retried on fresh ports.
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

async function startServiceOnce(opts: ServiceOptions): Promise<RunningService> {
  const port = opts.port ?? (await freePort());
  const stateDir = opts.stateDir ?? tempStateDir();
  const idpPort = typeof opts.idp === "object" ? opts.idp.port : opts.idp ? await freePort() : 0;
  const idp = opts.idp ? { issuer: `http://127.0.0.1:${idpPort}`, dir: join(stateDir, "idp") } : null;
  const env = {
    ...opts.defaults,
    ...process.env,
    ...(idp ? { IDP: "on", IDP_PORT: String(idpPort), IDP_DIR: idp.dir } : { IDP: "off" }),
    ...opts.env,
    PORT: String(port),
    COHERENCE_STATE_DIR: stateDir,
  };
  const proc = startProcess("npm", ["start"], { env, ...(opts.logFile ? { logFile: opts.logFile } : {}) });
  const service = { ...workerHandle(proc, port, opts), stateDir, idp };
  await answering(proc, `${service.baseUrl}/healthz`, `npm start (port ${port})`, opts.timeoutMs);
  return service;
}

/** Options of {@link startWorker}. */
export interface WorkerOptions extends Judged {
  /** The Worker's directory (its wrangler.toml); default the project. */
  cwd?: string;
  /** wrangler's log level (default `log`, as `npm start`). */
  logLevel?: string;
  /** More `wrangler dev` arguments (`-c`, `--persist-to`, `--var`, …). */
  args?: string[];
  /** Settings over the tools' environment (scripts/lib/env.mjs). */
  env?: Record<string, string>;
  /** The path that must answer 200 (default `/`). */
  healthPath?: string;
}

/**
 * Serves a Worker with `wrangler dev` on a free loopback port, exactly as `npm start` runs wrangler (same Node,
 * wrangler and flags): the bench's hello-world baselines and its realtime snapshot compare like with like.
 */
export async function startWorker(opts: WorkerOptions = {}): Promise<RunningWorker> {
  const port = await freePort();
  const { command, args } = wranglerDevCommand({
    port,
    logLevel: opts.logLevel ?? "log",
    extraArgs: opts.args ?? [],
  });
  const proc = startProcess(command, args, {
    cwd: opts.cwd ?? root,
    env: toolEnv(opts.env ?? {}),
    ...(opts.logFile ? { logFile: opts.logFile } : {}),
  });
  const worker = workerHandle(proc, port, opts);
  await answering(
    proc,
    `${worker.baseUrl}${opts.healthPath ?? "/"}`,
    `wrangler dev in ${opts.cwd ?? root}`,
    opts.timeoutMs,
  );
  return worker;
}

/**
 * Mints a dev JWT through `npm run token` (signed with the key `npm start` trusts), as docs/api.md documents:
 * `extra` takes its other flags (`--ttl`, `--nbf`, `--aud`, `--iss`, `--sub`). Fails unless it printed exactly
 * one line on stdout.
 */
export async function mintToken(tenant: string, scope: string, extra: string[] = []): Promise<string> {
  const { stdout } = await run("npm", ["run", "token", "--", "--tenant", tenant, "--scope", scope, ...extra], {
    cwd: root,
  });
  const lines = stdout.split("\n").filter((l) => l.length > 0);
  if (lines.length !== 1) throw new Error(`npm run token printed ${lines.length} lines on stdout`);
  return lines[0] as string;
}
