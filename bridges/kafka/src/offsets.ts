// Which offset of a partition may be committed: the one after the highest offset below which every record the
// bridge read was either acknowledged by the service (2xx) or dead-lettered. Pure; one instance per partition and
// consumer generation.

interface Entry<T> {
  offset: bigint;
  done: boolean;
  item: T;
}

/**
 * Tracks the records of one partition in the order they were read. Records arrive in increasing offset order
 * (offsets may have gaps: transaction markers, compaction), finish in any order, and the commit point only moves
 * over a prefix of finished records. `T` is what the caller needs to commit (the record itself).
 */
export class PartitionProgress<T> {
  #entries: Array<Entry<T> | undefined> = [];
  #head = 0;
  #byOffset = new Map<bigint, Entry<T>>();
  #lastAdded: bigint | null = null;
  #lastDone: Entry<T> | null = null;

  /** Number of records read and not finished yet. */
  get pending(): number {
    return this.#byOffset.size;
  }

  /**
   * Starts tracking a record. Returns false, and tracks nothing, when `offset` is not past the last one added: the
   * consumer went back (a rejoin re-fetches from the committed offset), so the caller must {@link reset} first.
   */
  add(offset: bigint, item: T): boolean {
    if (this.#lastAdded !== null && offset <= this.#lastAdded) return false;
    const entry = { offset, done: false, item };
    this.#entries.push(entry);
    this.#byOffset.set(offset, entry);
    this.#lastAdded = offset;
    return true;
  }

  /** Marks a record finished (acknowledged or dead-lettered). Unknown offsets are ignored. */
  finish(offset: bigint): void {
    const entry = this.#byOffset.get(offset);
    if (!entry) return;
    entry.done = true;
    this.#byOffset.delete(offset);
    while (this.#head < this.#entries.length) {
      const first = this.#entries[this.#head];
      if (!first?.done) break;
      this.#lastDone = first;
      this.#entries[this.#head] = undefined;
      this.#head++;
    }
    // Compact now and then so a long-lived partition does not keep a growing array of holes.
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * The last record of the finished prefix, once per advance: committing `offset + 1` of it is safe. Null when the
   * prefix has not moved since the last call.
   */
  takeCommittable(): { offset: bigint; item: T } | null {
    const last = this.#lastDone;
    if (!last) return null;
    this.#lastDone = null;
    return { offset: last.offset, item: last.item };
  }

  /** Forgets everything (a new generation, or the consumer went back): later finishes of old records are ignored. */
  reset(): void {
    this.#entries = [];
    this.#head = 0;
    this.#byOffset.clear();
    this.#lastAdded = null;
    this.#lastDone = null;
  }
}
