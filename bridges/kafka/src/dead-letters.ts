// The dead-letter topic (docs/kafka-bridge.md): a record that can never be accepted is copied there — original key, value
// and headers — with `x-error-code`, `x-source-partition`, `x-source-offset` and a few more headers saying why and
// where from. Its offset counts as done only once the broker has acknowledged the copy (acks=all), so a crash
// between the two writes the dead letter again rather than losing it.
import { type BackoffPolicy, backoffDelay } from "./backoff.ts";
import type { Rejection } from "./message.ts";

/** One record for the dead-letter topic. */
export interface DeadLetter {
  key: Buffer | undefined;
  value: Buffer | undefined;
  headers: Map<string, Buffer>;
}

/** What the writer needs from the Kafka producer. */
export interface DeadLetterPort {
  send(topic: string, letters: DeadLetter[]): Promise<void>;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  failed(error: unknown, attempt: number, delayMs: number): void;
}

/** The reason is free text from the service or the parser; headers are not the place for a novel. */
const MAX_REASON_BYTES = 1024;

/** The dead letter of a record: its key, value and headers, with the x-* headers set (ours win on a clash). */
export function deadLetterOf(
  source: {
    topic: string;
    partition: number;
    offset: bigint;
    timestampMs: number;
    key: Buffer | undefined;
    value: Buffer | undefined;
    headers: Iterable<[Buffer | string, Buffer | undefined]>;
  },
  rejection: Rejection,
  tenantId: string | null,
): DeadLetter {
  const headers = new Map<string, Buffer>();
  for (const [k, v] of source.headers) {
    headers.set(typeof k === "string" ? k : k.toString("utf8"), v ?? Buffer.alloc(0));
  }
  let reason = Buffer.from(rejection.reason, "utf8");
  if (reason.length > MAX_REASON_BYTES) reason = reason.subarray(0, MAX_REASON_BYTES);
  headers.set("x-error-code", Buffer.from(rejection.code));
  headers.set("x-error-reason", reason);
  headers.set("x-source-topic", Buffer.from(source.topic));
  headers.set("x-source-partition", Buffer.from(String(source.partition)));
  headers.set("x-source-offset", Buffer.from(source.offset.toString()));
  if (source.timestampMs >= 0) headers.set("x-source-timestamp", Buffer.from(String(source.timestampMs)));
  if (tenantId !== null) headers.set("x-tenant-id", Buffer.from(tenantId));
  return { key: source.key, value: source.value, headers };
}

interface Pending {
  letter: DeadLetter;
  done: (error?: unknown) => void;
}

/**
 * Writes dead letters in batches (whatever queued up while the previous write was in flight), one write at a time,
 * retrying a failed write with backoff until it succeeds or `signal` aborts (shutdown).
 */
export class DeadLetterWriter {
  readonly #topic: string;
  readonly #port: DeadLetterPort;
  readonly #policy: BackoffPolicy;
  readonly #signal: AbortSignal;
  #queue: Pending[] = [];
  #busy = false;

  constructor(topic: string, port: DeadLetterPort, policy: BackoffPolicy, signal: AbortSignal) {
    this.#topic = topic;
    this.#port = port;
    this.#policy = policy;
    this.#signal = signal;
  }

  /** Resolves once the broker has the letter; rejects only on shutdown. */
  write(letter: DeadLetter): Promise<void> {
    return new Promise((ok, fail) => {
      this.#queue.push({ letter, done: (error) => (error === undefined ? ok() : fail(error)) });
      if (!this.#busy) {
        this.#busy = true;
        // Let the letters of the same tick join one write.
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, 500);
      for (let attempt = 0; ; attempt++) {
        if (this.#signal.aborted) {
          for (const p of [...batch, ...this.#queue.splice(0)]) p.done(this.#signal.reason);
          this.#busy = false;
          return;
        }
        try {
          await this.#port.send(
            this.#topic,
            batch.map((p) => p.letter),
          );
          for (const p of batch) p.done();
          break;
        } catch (error) {
          const delay = backoffDelay(attempt, this.#policy);
          this.#port.failed(error, attempt, delay);
          await this.#port.sleep(delay, this.#signal).catch(() => undefined);
        }
      }
    }
    this.#busy = false;
  }
}
