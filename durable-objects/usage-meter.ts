import { type Unit, type UnitCounts, zeroUnits } from "../src/finops/cost-model";

type AnyCursor = SqlStorageCursor<Record<string, SqlStorageValue>>;

/**
 * Counts the tenant object's billable units where they happen (src/finops/cost-model.ts `UNITS`): units added by the
 * object's code (requests, frames, queue chunks), SQLite rows as the runtime reports them per statement, and the
 * time the object is held in memory. The usage ledger takes the counts at the end of each invocation
 * ({@link take}) and stores them in the same step as the request's own effects.
 *
 * Duration is counted as Cloudflare bills it: wall-clock time while an event handler runs or work is pending that
 * keeps the object from hibernating (one of its sub-second timers), and nothing while it is idle and eligible for
 * hibernation — sockets open or not. The clock is the object's (time moves with I/O inside the runtime).
 */
export class UsageMeter {
  private counts: UnitCounts = zeroUnits();
  private changed = false;
  private cursors: AnyCursor[] = [];
  /** Running invocations plus 1 while a timer is pending. */
  private holds = 0;
  private heldSince = 0;

  constructor(private readonly now: () => number) {}

  /** Adds `n` of `unit`. */
  add(unit: Unit, n: number): void {
    if (n === 0) return;
    this.counts[unit] += n;
    this.changed = true;
  }

  /** A gauge: replaces the unit's value (the object's storage size). */
  set(unit: Unit, n: number): void {
    if (this.counts[unit] === n) return;
    this.counts[unit] = n;
    this.changed = true;
  }

  /** An event handler starts, or a timer becomes pending: the object is not hibernatable until {@link release}. */
  hold(): void {
    if (this.holds++ === 0) this.heldSince = this.now();
  }

  /** The end of a {@link hold}. */
  release(): void {
    if (this.holds === 0) return;
    if (--this.holds === 0) this.add("do_active_ms", Math.max(0, this.now() - this.heldSince));
  }

  /**
   * The SQLite API of the object, each statement's cursor kept until {@link take} reads its row counts (reads
   * are counted as they are iterated, so a cursor is read when the invocation ends, not when it is created).
   */
  meter(sql: SqlStorage): SqlStorage {
    const cursors = this.cursors;
    return new Proxy(sql, {
      get(target, prop) {
        if (prop === "exec") {
          return (query: string, ...bindings: unknown[]) => {
            const cursor = target.exec(query, ...bindings) as AnyCursor;
            cursors.push(cursor);
            return cursor;
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }

  /**
   * The units counted since the last call (the active time so far included, while still held), or `null` when
   * nothing changed. Gauges are reported with their current value.
   */
  take(): UnitCounts | null {
    for (const c of this.cursors) {
      this.add("do_rows_read", c.rowsRead);
      this.add("do_rows_written", c.rowsWritten);
    }
    this.cursors.length = 0;
    if (this.holds > 0) {
      const now = this.now();
      this.add("do_active_ms", Math.max(0, now - this.heldSince));
      this.heldSince = now;
    }
    if (!this.changed) return null;
    const out = this.counts;
    const storage = out.do_storage_bytes;
    this.counts = zeroUnits();
    this.counts.do_storage_bytes = storage;
    this.changed = false;
    return out;
  }
}
