// A cross-process lock for the one-time downloads and builds under .cache/ (two test processes may start
// together): a directory created atomically with mkdir. Plain Node.
import { mkdirSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";

const sleep = (/** @type {number} */ ms) => new Promise((ok) => setTimeout(ok, ms));

/**
 * Runs `fn` while holding the lock `lockDir`. A lock older than `staleMs` is taken to be left by a dead process
 * and removed; waiting longer than `waitMs` (default: no limit) fails with an error naming `what`.
 * @template T
 * @param {string} lockDir
 * @param {() => T | Promise<T>} fn
 * @param {{ staleMs?: number; waitMs?: number; pollMs?: number; what?: string }} [opts]
 * @returns {Promise<T>}
 */
export async function withDirLock(
  lockDir,
  fn,
  { staleMs = 20 * 60_000, waitMs = Infinity, pollMs = 500, what = lockDir } = {},
) {
  mkdirSync(dirname(lockDir), { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== "EEXIST") throw err;
      let age = 0;
      try {
        age = Date.now() - statSync(lockDir).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      if (age > staleMs) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} (${lockDir})`);
      await sleep(pollMs);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}
