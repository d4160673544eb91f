// A server process started by our scripts (Neo4j harness, Kafka broker, test collector): its exit, a SIGKILL if
// this Node process ends first, and a graceful stop. Plain Node.

/** @typedef {{ code: number | null; signal: NodeJS.Signals | null }} ChildExit */

/**
 * Supervises `child`: `exited` says whether it has ended, `exit` resolves with `{ code, signal }` when it does.
 * Until `terminate` or `kill` is called, the child is killed (SIGKILL) if this process exits.
 * @param {import("node:child_process").ChildProcess} child
 */
export function supervise(child) {
  let exited = false;
  /** @type {Promise<ChildExit>} */
  const exit = new Promise((ok) => {
    child.on("exit", (code, signal) => {
      exited = true;
      ok({ code, signal });
    });
  });
  const killOnExit = () => {
    if (!exited) child.kill("SIGKILL");
  };
  process.on("exit", killOnExit);
  return {
    get exited() {
      return exited;
    },
    exit,
    /**
     * SIGTERM, then SIGKILL if it is still running after `graceMs`. `afterSignal` runs right after the SIGTERM
     * (e.g. closing stdin). Resolves with the exit, or `null` when the child had ended already.
     * @param {number} graceMs
     * @returns {Promise<ChildExit | null>}
     */
    async terminate(graceMs, afterSignal = () => {}) {
      process.off("exit", killOnExit);
      if (exited) return null;
      child.kill("SIGTERM");
      afterSignal();
      const timer = setTimeout(() => {
        if (!exited) child.kill("SIGKILL");
      }, graceMs);
      const result = await exit;
      clearTimeout(timer);
      return result;
    },
    /** SIGKILL now; resolves once it has ended. */
    async kill() {
      process.off("exit", killOnExit);
      if (!exited) child.kill("SIGKILL");
      return exit;
    },
  };
}
