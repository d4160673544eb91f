// One HTTP exchange with the service: bearer token, a timeout, and the answer read whole. No retries here.
import { CoherenceError } from "./errors.ts";
import type { TokenProvider } from "./tokens.ts";

export interface Transport {
  /** The service's base URL, without a trailing slash (a path prefix is kept). */
  baseUrl: string;
  fetch: typeof fetch;
  tokens: TokenProvider;
  /** Each attempt is abandoned after this long (then it counts as a dropped connection). */
  timeoutMs: number;
}

export interface Answer {
  status: number;
  headers: Headers;
  /** Parsed JSON, or null when the body is not JSON. */
  body: unknown;
}

export interface Exchange {
  path: string;
  method: "GET" | "POST";
  tenantId: string | null;
  headers?: Record<string, string>;
  body?: string;
  /** Ask the token provider for a fresh token (the last one was refused). */
  refreshToken?: boolean;
  /** Abandons the attempt (the client is being aborted). */
  signal?: AbortSignal;
}

/**
 * Sends one request. Resolves with any HTTP answer (the caller judges the status); rejects with a CoherenceError
 * `NETWORK` when there is no answer (refused, dropped, timed out) and `TOKEN_UNAVAILABLE` when no token could be had.
 */
export async function exchange(t: Transport, x: Exchange): Promise<Answer> {
  let token: string;
  try {
    token = await t.tokens.token({ tenantId: x.tenantId, refresh: x.refreshToken ?? false });
  } catch (err) {
    if (err instanceof CoherenceError) throw err;
    throw new CoherenceError("TOKEN_UNAVAILABLE", `no token: ${err instanceof Error ? err.message : String(err)}`, {
      retryable: true,
      cause: err,
    });
  }
  // A timer rather than AbortSignal.timeout(): it is the clock tests control, and it is cleared on every path.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), t.timeoutMs);
  const onAbort = () => abort.abort();
  x.signal?.addEventListener("abort", onAbort);
  try {
    const res = await t.fetch(`${t.baseUrl}${x.path}`, {
      method: x.method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(x.body === undefined ? {} : { "content-type": "application/json" }),
        ...x.headers,
      },
      ...(x.body === undefined ? {} : { body: x.body }),
      signal: abort.signal,
    });
    const text = await res.text();
    let body: unknown = null;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch {
      body = null;
    }
    return { status: res.status, headers: res.headers, body };
  } catch (err) {
    const reason = abort.signal.aborted
      ? `no answer within ${t.timeoutMs} ms`
      : err instanceof Error
        ? err.message
        : String(err);
    throw new CoherenceError("NETWORK", `${x.method} ${x.path}: ${reason}`, { retryable: true, cause: err });
  } finally {
    clearTimeout(timer);
    x.signal?.removeEventListener("abort", onAbort);
  }
}

/** Waits `ms` (a timer, so fake clocks drive it); ends early, without error, when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}

/** A fresh Idempotency-Key: a UUID where the platform has one (browsers only in secure contexts), else 128 random bits. */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
