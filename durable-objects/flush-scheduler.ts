import { logEvent } from "../src/telemetry/log";

/** A piece of sub-second work waiting for its instant. */
interface Task {
  atMs: number;
  run: () => void | Promise<void>;
}

/**
 * The tenant object's only timers: sub-second work that coalesces bursts — the fan-out flush (within
 * `FANOUT_WINDOW_MS`, or a flow-control re-check at most a second away) and the outbox's hand-off to the queue
 * (one window after the first change). Everything else that is due (window changes, pruning, socket deadlines,
 * outbox retries, usage pushes) waits for the object's one alarm.
 *
 * Why these are not on the alarm: under load they fire up to ten times a second, and each `setAlarm` is a storage
 * write and each alarm an invocation of its own; and losing one costs nothing — the work is derived from storage,
 * so an object that restarts redoes it (the hub flushes subscribers behind the log, the outbox sends what is past
 * its cursor). A pending task keeps the object in memory for at most that long, never while it is idle.
 *
 * One `setTimeout` at a time, for the earliest task; one task per key, the earliest requested.
 */
export class FlushScheduler {
  private readonly tasks = new Map<string, Task>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAtMs = Number.POSITIVE_INFINITY;

  constructor(
    private readonly tenantId: string,
    private readonly now: () => number,
    /** Called after each task (the object re-arms its alarm: a hand-off may have failed, a socket closed). */
    private readonly afterRun: () => void,
    /**
     * Told when the object is kept from hibernating by a pending timer or a running task (FinOps duration,
     * durable-objects/usage-meter.ts): `hold` when one starts, `release` when it ends.
     */
    private readonly activity: { hold(): void; release(): void } = { hold() {}, release() {} },
  ) {}

  /** Runs `run` at `atMs` (at once when past), unless the task under `key` is already due by then. */
  at(key: string, atMs: number, run: () => void | Promise<void>): void {
    const current = this.tasks.get(key);
    if (current && current.atMs <= atMs) return;
    this.tasks.set(key, { atMs, run });
    if (atMs >= this.timerAtMs) return;
    if (this.timer !== null) clearTimeout(this.timer);
    else this.activity.hold();
    this.timerAtMs = atMs;
    this.timer = setTimeout(
      // The timer firing means its instant has come, whatever a test's frozen clock says.
      () => void this.runDue(Math.max(this.now(), atMs)),
      Math.max(0, atMs - this.now()),
    );
  }

  /** When the task under `key` runs, or `null` when none is waiting. */
  dueAt(key: string): number | null {
    return this.tasks.get(key)?.atMs ?? null;
  }

  /** Runs every task due at `nowMs` (the timer's body; tests call it with their clock instead of waiting). */
  async runDue(nowMs: number = this.now()): Promise<void> {
    this.activity.hold();
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.activity.release();
    }
    this.timer = null;
    this.timerAtMs = Number.POSITIVE_INFINITY;
    const due: Array<[string, Task]> = [];
    for (const entry of this.tasks) if (entry[1].atMs <= nowMs) due.push(entry);
    for (const [key] of due) this.tasks.delete(key);
    // Re-arm for what is left before running: a task may ask for itself again.
    let next: [string, Task] | null = null;
    for (const entry of this.tasks) if (next === null || entry[1].atMs < next[1].atMs) next = entry;
    if (next) {
      const [key, task] = next;
      this.tasks.delete(key);
      this.at(key, task.atMs, task.run);
    }
    try {
      await Promise.all(due.map(([key, task]) => this.run(key, task)));
    } finally {
      this.activity.release();
    }
  }

  private async run(key: string, task: Task): Promise<void> {
    try {
      await task.run();
    } catch (err) {
      logEvent({
        level: "error",
        op: "timer",
        tenant_id: this.tenantId,
        task: key,
        error_code: "INTERNAL",
        message: err instanceof Error ? err.message : String(err),
      });
    } finally {
      this.afterRun();
    }
  }
}
