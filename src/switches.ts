import type { Config } from "./config";
import { effectiveSwitches, type StoredSwitches, type Switches } from "./domain/switches";
import { opsSwitches } from "./residency";
import { logEvent } from "./telemetry/log";

/**
 * How old this isolate's copy of the switches may be. A change takes effect everywhere within this plus one
 * read of the object (the "within 5 s").
 */
export const SWITCH_CACHE_MS = 4000;
/** A refresh claimed this long ago and not finished is presumed lost (its request was cancelled). */
const CLAIM_EXPIRES_MS = 2000;

/**
 * The switches' stored values, cached per isolate. Holds plain settled data only: a request whose copy is stale
 * reads the object itself (its own promise), and while one request does so the others of this isolate keep the
 * previous copy; no request ever awaits a promise another request created (workerd cancels such requests).
 * If the object cannot be read, the last copy stays in use (or, before any, the defaults from the settings).
 */
export class SwitchCache {
  private stored: StoredSwitches | null = null;
  private atMs = 0;
  private claimedAt: number | null = null;
  private readonly effective = new WeakMap<Config, { stored: StoredSwitches; switches: Switches }>();

  /** The switches in effect for `config`, reading the stored values with `load` when this copy is stale. */
  async get(config: Config, load: () => Promise<StoredSwitches>, now = Date.now()): Promise<Switches> {
    if (this.stored === null || now - this.atMs >= SWITCH_CACHE_MS) {
      const claimed = this.claimedAt !== null && now - this.claimedAt < CLAIM_EXPIRES_MS;
      if (this.stored === null || !claimed) {
        this.claimedAt = now;
        try {
          this.set(await load(), now);
        } catch (err) {
          logEvent({
            level: "warn",
            op: "switches",
            error_code: "SWITCHES_UNAVAILABLE",
            message: `switches unreadable, keeping the ${this.stored ? "last copy" : "defaults"}: ${
              err instanceof Error ? err.message : String(err)
            }`,
          });
          this.set(this.stored ?? {}, now);
        } finally {
          this.claimedAt = null;
        }
      }
    }
    return this.resolve(config, this.stored ?? {});
  }

  /** Replaces this isolate's copy (after a change made here, so the changing request sees it at once). */
  set(stored: StoredSwitches, now = Date.now()): void {
    this.stored = stored;
    this.atMs = now;
  }

  private resolve(config: Config, stored: StoredSwitches): Switches {
    const memo = this.effective.get(config);
    if (memo && memo.stored === stored) return memo.switches;
    const switches = effectiveSwitches(config, stored);
    this.effective.set(config, { stored, switches });
    return switches;
  }
}

/** This isolate's cache. */
export const switchCache = new SwitchCache();

/** The switches in effect for a request or a queue batch of this isolate. */
export function currentSwitches(env: Pick<Env, "OPS_SWITCHES">, config: Config): Promise<Switches> {
  // A Worker without the binding (unit tests' fakes) has no stored switches: the defaults apply.
  if (!env.OPS_SWITCHES) return switchCache.get(config, async () => ({}));
  return switchCache.get(config, () => opsSwitches(env, config).values());
}
