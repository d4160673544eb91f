import { deadLetterStore, type Pinning } from "../residency";
import { logEvent } from "../telemetry/log";
import { deadLetterSchema } from "./messages";

/** The dead-letter queue's consumer: keeps every message in the DeadLetterStore for replay. */
export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env, pinning: Pinning): Promise<void> {
  const store = deadLetterStore(env, pinning);
  const letters = batch.messages.map((m) => {
    const parsed = deadLetterSchema.safeParse(m.body);
    // Messages moved here by the queue's retry limit arrive as the original body.
    return parsed.success
      ? parsed.data
      : {
          body: m.body,
          error: { code: "RETRIES_EXHAUSTED", reason: `after ${m.attempts} attempts` },
          failedAt: Date.now(),
        };
  });
  await store.add(letters);
  batch.ackAll();
  logEvent({ level: "warn", op: "dead_letter", error_code: "DEAD_LETTERED", count: letters.length });
}
