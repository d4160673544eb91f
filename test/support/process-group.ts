// A command in a process group of its own (npm start, wrangler dev, the Kafka bridge): its output kept in memory or
// in a file, readiness by a URL that answers 200, and a stop that leaves nothing of the group behind. Part of the
// harness (harness.ts): erasable TypeScript that Node 22 runs as is.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { root } from "../../scripts/lib/env.mjs";

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
/** How long a stopping process group gets after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5000;
const DEFAULT_TIMEOUT_MS = 90_000;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A command running in a process group of its own, with its output (stdout and stderr) kept. */
export interface GroupProcess {
  /** The leader's pid, which is also the group's id. */
  pid: number;
  /** Resolves when the leader has exited. */
  exited: Promise<Exit>;
  /** Everything printed so far. */
  output: () => string;
  /** Where the output goes, or `null` when it is kept in memory. */
  logFile: string | null;
  /** Sends `signal` to the whole group; `false` when none of it is left. */
  signal: (signal: NodeJS.Signals) => boolean;
  /** SIGTERM to the group, SIGKILL to whatever is left once the leader exited or the grace ran out. */
  stop: () => Promise<void>;
}

/** Groups still running, killed if this process exits first (a test run or a bench that crashed). */
const live = new Set<number>();
process.on("exit", () => {
  for (const pid of live) signalGroup(pid, "SIGKILL");
});

/** `signal` 0 only asks whether any process of the group is left. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // no process of the group is left
  }
}

/**
 * Starts `command` detached (its own process group, so stopping it ends npm, wrangler and workerd alike). Its
 * output goes to `logFile` when given (long runs; files other code tails), else it is kept in memory.
 */
export function startProcess(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; logFile?: string } = {},
): GroupProcess {
  const fd = opts.logFile === undefined ? null : openSync(opts.logFile, "w");
  const child: ChildProcess = spawn(command, args, {
    cwd: opts.cwd ?? root,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ["ignore", fd ?? "pipe", fd ?? "pipe"],
  });
  if (fd !== null) closeSync(fd);
  let kept = "";
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (text: string) => {
      kept += text;
    });
  }
  const exited = new Promise<Exit>((ok) => {
    child.once("exit", (code, signal) => ok({ code, signal }));
    child.once("error", (err) => {
      kept += `\n${command} could not start: ${err.message}\n`;
      ok({ code: null, signal: null });
    });
  });
  const pid = child.pid ?? 0;
  if (pid > 0) live.add(pid);
  void exited.then(() => {
    if (!signalGroup(pid, 0)) live.delete(pid);
  });
  const logFile = opts.logFile ?? null;
  return {
    pid,
    exited,
    logFile,
    output: () => (logFile === null ? kept : readFileSync(logFile, "utf8")),
    signal: (signal) => pid > 0 && signalGroup(pid, signal),
    stop: async () => {
      if (pid === 0) return;
      if (signalGroup(pid, "SIGTERM")) {
        const ended = await Promise.race([exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
        // Give workerd a moment after the leader exits, then make sure nothing of the group is left.
        if (ended) await sleep(300);
        signalGroup(pid, "SIGKILL");
      }
      await exited;
      live.delete(pid);
    },
  };
}

/** The last `n` lines of a text, for error messages. */
function tail(text: string, n = 60): string {
  return text.split("\n").slice(-n).join("\n");
}

/**
 * Waits until `GET url` answers 200, failing early when the process exits, and with its last output lines
 * either way.
 */
export async function waitForOk(url: string, proc: GroupProcess, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  let exit: Exit | null = null;
  void proc.exited.then((e) => {
    exit = e;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ended = exit as Exit | null;
    if (ended !== null) {
      throw new Error(
        `exited (code ${ended.code}, signal ${ended.signal}) before GET ${url} answered 200:\n${tail(proc.output())}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`GET ${url} did not answer 200 within ${timeoutMs / 1000} s:\n${tail(proc.output())}`);
    }
    await sleep(200);
  }
}
