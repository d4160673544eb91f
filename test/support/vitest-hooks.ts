// The harness's vitest hooks (tests only: bench and scripts import harness.ts, never this file). A test file's
// servers start once before its tests, and a failure to start fails every one of those tests with the reason:
// a throwing `beforeAll` would leave them "skipped", and a summary could then read "0 failed" for a file that
// tested nothing.
import { afterAll, beforeAll, beforeEach } from "vitest";
import { type RunningService, type ServiceOptions, startService } from "./harness.ts";

/** The e2e project's hookTimeout (vitest.config.ts). */
const DEFAULT_TIMEOUT_MS = 120_000;

/**
 * Like `beforeAll(setup, timeoutMs)`, except that when `setup` throws or runs out of time, each test of the
 * enclosing suite fails with that error instead of being skipped.
 */
export function beforeAllOrFail(setup: () => Promise<void>, timeoutMs = DEFAULT_TIMEOUT_MS): void {
  let failure: { error: unknown; settled: Promise<unknown> } | null = null;
  // vitest's own limit comes 10 s later, so the race below is what ends a set-up that hangs.
  beforeAll(async () => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`set-up did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    const running = setup();
    try {
      await Promise.race([running, late]);
    } catch (error) {
      failure = { error, settled: running.catch(() => {}) };
    } finally {
      clearTimeout(timer);
    }
  }, timeoutMs + 10_000);
  beforeEach(async () => {
    if (!failure) return;
    // A set-up that ran out of time may still finish (a slow start): wait for it, so that whatever it started is
    // in the file's variables by the time its afterAll hooks stop them.
    await failure.settled;
    throw failure.error;
  });
}

/**
 * One `npm start` for the tests of the enclosing suite: started before them (a failure fails each of them), stopped
 * after them, when the log guard judges its output. The returned object is filled in once the service is up.
 */
export function serviceForFile(opts: ServiceOptions = {}, timeoutMs = DEFAULT_TIMEOUT_MS): RunningService {
  const svc = {} as RunningService;
  beforeAllOrFail(async () => {
    Object.assign(svc, await startService(opts));
  }, timeoutMs);
  afterAll(async () => {
    await svc.stop?.();
  });
  return svc;
}

/**
 * `start` for tests that start services themselves (restarts, settings of their own): each service still running
 * when the suite ends is stopped then, and judged by the log guard (a service stopped earlier is not judged twice).
 */
export function servicesForTests(): (opts?: ServiceOptions) => Promise<RunningService> {
  const started: RunningService[] = [];
  afterAll(async () => {
    for (const svc of started) await svc.stop();
  });
  return async (opts = {}) => {
    const svc = await startService(opts);
    started.push(svc);
    return svc;
  };
}
