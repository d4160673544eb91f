// Delivers one tenant's batch to the service until every signal in it is either acknowledged or known to be
// unacceptable. The service's batches are all-or-nothing, so the bridge takes the refused items out (to the
// dead-letter topic) and sends the rest again; transient failures are retried with bounded backoff, forever, until
// the bridge shuts down (at-least-once: nothing is dropped because the service was away).
import { type BackoffPolicy, retryAfterMs, retryDelay } from "./backoff.ts";
import { type BatchItem, batchBody } from "./batches.ts";
import { type IngestAnswer, judgeAnswer, type Verdict } from "./ingest-answer.ts";
import type { Rejection } from "./message.ts";

/** What the forwarder needs from the outside world; all I/O goes through here. */
export interface ForwardPort<T extends BatchItem> {
  /** POSTs `body` for `tenantId` with `token`; throws on a network failure or timeout. */
  send(tenantId: string, token: string, body: string, signal: AbortSignal): Promise<IngestAnswer>;
  token(tenantId: string): string | null;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  now(): number;
  /** The service stored these signals (2xx). */
  acknowledged(items: T[], verdict: Extract<Verdict, { kind: "accepted" }>): void;
  /** These signals can never be accepted: dead-letter them. */
  rejected(items: T[], rejection: Rejection): void;
  /** One request was answered (for logs and metrics). */
  answered(info: AnswerInfo): void;
}

export interface AnswerInfo {
  tenantId: string;
  /** HTTP status, or 0 when the request failed without an answer. */
  status: number;
  signals: number;
  latencyMs: number;
  verdict: Verdict["kind"];
  code: string | null;
  provenanceId: string | null;
  /** For retries: the wait before the next attempt. */
  retryInMs: number | null;
  attempt: number;
}

/**
 * Sends `items` (all of `tenantId`) until each is acknowledged or rejected. Throws only when `signal` aborts
 * (shutdown); the items not settled by then are simply not acknowledged, so their offsets are not committed and
 * Kafka delivers them again.
 */
export async function forwardBatch<T extends BatchItem>(
  tenantId: string,
  items: T[],
  port: ForwardPort<T>,
  policy: BackoffPolicy,
  signal: AbortSignal,
): Promise<void> {
  const work: T[][] = [items];
  let attempt = 0;
  while (work.length > 0) {
    signal.throwIfAborted();
    const part = work[0] as T[];
    const token = port.token(tenantId);
    if (token === null) {
      port.rejected(part, { code: "FORBIDDEN", reason: "no ingest token is configured for this tenant" });
      work.shift();
      continue;
    }
    const started = port.now();
    let verdict: Verdict;
    let status = 0;
    try {
      const answer = await port.send(tenantId, token, batchBody(part), signal);
      status = answer.status;
      verdict = judgeAnswer(answer, part.length);
    } catch (err) {
      if (signal.aborted) throw err;
      verdict = { kind: "retry", code: "NETWORK_ERROR", retryAfter: null };
    }
    const latencyMs = port.now() - started;
    const info: AnswerInfo = {
      tenantId,
      status,
      signals: part.length,
      latencyMs,
      verdict: verdict.kind,
      code: verdict.kind === "accepted" ? null : verdict.kind === "reject-items" ? "VALIDATION_FAILED" : null,
      provenanceId: null,
      retryInMs: null,
      attempt,
    };
    switch (verdict.kind) {
      case "accepted":
        port.answered({ ...info, provenanceId: verdict.provenanceId });
        port.acknowledged(part, verdict);
        work.shift();
        attempt = 0;
        break;
      case "reject-items": {
        port.answered(info);
        const rest: T[] = [];
        part.forEach((item, index) => {
          const rejection = verdict.rejected.get(index);
          if (rejection) port.rejected([item], rejection);
          else rest.push(item);
        });
        if (rest.length > 0) work[0] = rest;
        else work.shift();
        attempt = 0;
        break;
      }
      case "reject-all":
        port.answered({ ...info, code: verdict.rejection.code });
        port.rejected(part, verdict.rejection);
        work.shift();
        attempt = 0;
        break;
      case "split": {
        port.answered({ ...info, code: verdict.code });
        const half = Math.ceil(part.length / 2);
        work.splice(0, 1, part.slice(0, half), part.slice(half));
        break;
      }
      case "retry": {
        const delay = retryDelay(attempt, retryAfterMs(verdict.retryAfter, port.now()), policy);
        port.answered({ ...info, code: verdict.code, retryInMs: delay });
        attempt++;
        await port.sleep(delay, signal);
        break;
      }
    }
  }
}
