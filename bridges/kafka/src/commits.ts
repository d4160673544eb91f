// Per-partition commit tracking across consumer generations: which records of the current generation are settled,
// and committing the offset after each partition's settled prefix. A rejoin re-fetches from the committed offsets,
// so records fetched before it (older generation) are forwarded but never move a commit, and a partition whose
// offsets go back (the re-fetch) starts its tracking over.
import { commitAfter, generationOf, type KafkaRecord } from "./kafka-clients.ts";
import { PartitionProgress } from "./offsets.ts";

export interface CommitResult {
  partition: number;
  /** The committed offset: the next record to read. */
  offset: bigint;
  error: unknown;
}

export class CommitTracker {
  readonly #progress = new Map<number, PartitionProgress<KafkaRecord>>();
  #generation = -1;

  /** Starts tracking a record as it is read. */
  track(record: KafkaRecord): void {
    const generation = generationOf(record);
    if (generation > this.#generation) {
      this.#generation = generation;
      this.#progress.clear();
    }
    if (generation < this.#generation) return;
    let progress = this.#progress.get(record.partition);
    if (!progress) {
      progress = new PartitionProgress<KafkaRecord>();
      this.#progress.set(record.partition, progress);
    }
    if (!progress.add(record.offset, record)) {
      progress.reset();
      progress.add(record.offset, record);
    }
  }

  /**
   * The record is acknowledged or dead-lettered. (A record from before a reset may mark its re-fetched copy done:
   * harmless, since the same record was settled.)
   */
  settled(record: KafkaRecord): void {
    this.#progress.get(record.partition)?.finish(record.offset);
  }

  /** Forgets everything (the consumer was reopened). */
  clear(): void {
    this.#progress.clear();
  }

  /** Commits every partition whose settled prefix moved; reports each commit's outcome. */
  async commit(): Promise<CommitResult[]> {
    const commits: Promise<CommitResult>[] = [];
    for (const [partition, progress] of this.#progress) {
      const next = progress.takeCommittable();
      if (!next) continue;
      const offset = next.offset + 1n;
      commits.push(
        commitAfter(next.item).then(
          () => ({ partition, offset, error: null }),
          (error: unknown) => ({ partition, offset, error: error ?? new Error("commit failed") }),
        ),
      );
    }
    return Promise.all(commits);
  }
}
