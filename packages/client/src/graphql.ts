// Persisted GraphQL operations over HTTP (docs/api.md §4.4): the request names a registered operation by its id, its
// result and variables are the generated types of that operation. Reads are idempotent, so they are retried like
// ingest (429, 5xx, no answer) with the same backoff.
import { parseRetryAfter, type RetryPolicy, retryDelay } from "./backoff.ts";
import { CoherenceError, errorFromAnswer } from "./errors.ts";
import type { PersistedOperationTypes } from "./generated/operations.ts";
import { type Answer, exchange, sleep, type Transport } from "./http.ts";

/** The registered queries and mutations (subscriptions go over the WebSocket). */
export type HttpOperationName = {
  [K in keyof PersistedOperationTypes]: K extends `${string}_updates_v${number}` | "pq_coherence_events_v1" ? never : K;
}[keyof PersistedOperationTypes];

export interface RetryContext {
  transport: Transport;
  retry: RetryPolicy;
  random: () => number;
}

/**
 * Sends an exchange until it gets a 2xx or a final answer: retries what `isRetryableStatus` allows (honouring
 * `Retry-After`), and a 401 once with a fresh token when the provider can give one.
 */
export async function withRetries(
  ctx: RetryContext,
  send: (refreshToken: boolean) => Promise<Answer>,
  isFailure: (answer: Answer) => boolean = (a) => a.status < 200 || a.status >= 300,
): Promise<Answer> {
  let refreshed = false;
  let refreshToken = false;
  for (let attempt = 1; ; attempt++) {
    let error: CoherenceError;
    let retryAfter: number | null = null;
    try {
      const answer = await send(refreshToken);
      refreshToken = false;
      if (!isFailure(answer)) return answer;
      error = errorFromAnswer(answer.status, answer.body);
      retryAfter = parseRetryAfter(answer.headers.get("retry-after"), Date.now());
      if (answer.status === 401 && ctx.transport.tokens.refreshable && !refreshed) {
        refreshed = true;
        refreshToken = true;
        continue;
      }
    } catch (err) {
      if (!(err instanceof CoherenceError)) throw err;
      error = err;
    }
    if (!error.retryable || attempt >= ctx.retry.maxAttempts) throw error.withAttempts(attempt);
    await sleep(retryDelay(attempt - 1, retryAfter, ctx.retry, ctx.random));
  }
}

/** Runs a registered query or mutation by name and returns its `data`, typed by the generated operation types. */
export async function runOperation<N extends HttpOperationName>(
  ctx: RetryContext,
  name: N,
  variables: PersistedOperationTypes[N]["variables"],
  tenantId: string | null,
): Promise<PersistedOperationTypes[N]["result"]> {
  const body = JSON.stringify({ id: name, variables });
  const answer = await withRetries(
    ctx,
    (refreshToken) => exchange(ctx.transport, { path: "/graphql", method: "POST", tenantId, body, refreshToken }),
    // GraphQL may answer 200 with errors (an error raised while executing): that is a failure too.
    (a) => a.status < 200 || a.status >= 300 || hasErrors(a.body),
  );
  const data = (answer.body as { data?: unknown } | null)?.data;
  if (data === null || typeof data !== "object") {
    throw new CoherenceError("BAD_RESPONSE", `${name}: the answer carries no data`, { status: answer.status });
  }
  return data as PersistedOperationTypes[N]["result"];
}

function hasErrors(body: unknown): boolean {
  if (body === null || typeof body !== "object") return false;
  const errors = (body as { errors?: unknown }).errors;
  return Array.isArray(errors) && errors.length > 0;
}
