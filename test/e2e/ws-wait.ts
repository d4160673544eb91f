// Deadline-bound waits for the realtime e2e tests: things arrive on sockets, tests wait for them with a
// timeout that names what was awaited, never with a sleep.

/** Rejects with a message naming `what` unless `promise` settles within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Human text for whatever ended a subscription or socket (a CloseEvent, GraphQL errors, an Error). */
export function describeEnd(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  if (reason !== null && typeof reason === "object" && "code" in reason) {
    const r = reason as { code: unknown; reason?: unknown };
    return `close ${String(r.code)} ${String(r.reason ?? "")}`;
  }
  return JSON.stringify(reason);
}

/** A list that grows as things arrive, with deadline-bound waits on its contents. */
export class Inbox<T> {
  readonly items: T[] = [];
  private readonly watchers = new Set<() => void>();
  private endReason: { reason: unknown } | null = null;

  push(item: T): void {
    this.items.push(item);
    for (const w of [...this.watchers]) w();
  }

  /** No more items will come (socket closed, subscription ended). */
  end(reason: unknown): void {
    if (this.endReason) return;
    this.endReason = { reason };
    for (const w of [...this.watchers]) w();
  }

  get ended(): { reason: unknown } | null {
    return this.endReason;
  }

  /** Resolves once `done(items)` holds; rejects on the deadline, or when the inbox ends without it holding. */
  until(done: (items: readonly T[]) => boolean, ms: number, what: string): Promise<void> {
    return new Promise<void>((ok, fail) => {
      const finish = (err?: Error) => {
        this.watchers.delete(check);
        clearTimeout(timer);
        if (err) fail(err);
        else ok();
      };
      const check = () => {
        if (done(this.items)) finish();
        else if (this.endReason) {
          finish(
            new Error(`ended (${describeEnd(this.endReason.reason)}) after ${this.items.length} items, before ${what}`),
          );
        }
      };
      const timer = setTimeout(
        () => finish(new Error(`timed out after ${ms} ms (${this.items.length} items so far) waiting for ${what}`)),
        ms,
      );
      this.watchers.add(check);
      check();
    });
  }

  /** Resolves with the first item (already here or still to come) that matches. */
  async first(match: (item: T) => boolean, ms: number, what: string): Promise<T> {
    await this.until((items) => items.some(match), ms, what);
    return this.items.find(match) as T;
  }
}
