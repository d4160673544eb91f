// Errors the client reports, typed by the service's error codes (docs/api.md §3) plus the few the client itself
// raises. One class, so callers narrow with `err instanceof CoherenceError` and switch on `err.code`.

/** The service's error codes (docs/api.md §3 and the realtime close reasons of §4.5). */
export type ServiceErrorCode =
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "PAYLOAD_TOO_LARGE"
  | "MALFORMED_JSON"
  | "VALIDATION_FAILED"
  | "BAD_REQUEST"
  | "PERSISTED_QUERY_NOT_FOUND"
  | "PERSISTED_QUERY_ONLY"
  | "USE_WEBSOCKET"
  | "IDEMPOTENCY_KEY_REUSED"
  | "IDEMPOTENCY_KEY_IN_FLIGHT"
  | "RATE_LIMITED"
  | "TOO_MANY_CONNECTIONS"
  | "TOO_MANY_SUBSCRIPTIONS"
  | "BAD_CURSOR"
  | "CURSOR_EXPIRED"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "FEATURE_DISABLED"
  | "OPERATION_DISABLED"
  | "FINOPS_UNAVAILABLE"
  | "SERVICE_UNAVAILABLE"
  | "INTERNAL";

/** Codes the client raises itself. */
export type ClientErrorCode =
  /** No answer: the connection failed or dropped, or the request timed out. */
  | "NETWORK"
  /** publish() after close(). */
  | "CLIENT_CLOSED"
  /** abort() gave up on the signal before the service accepted it. */
  | "ABORTED"
  /** The queue is full and the client was built with `overflow: "reject"`. */
  | "QUEUE_FULL"
  /** The token provider failed (OAuth token endpoint refused or unreachable, getToken threw). */
  | "TOKEN_UNAVAILABLE"
  /** A 2xx answer the client cannot read. */
  | "BAD_RESPONSE"
  /** A signal the client refuses before sending it (e.g. larger than a request may be). */
  | "SIGNAL_TOO_LARGE";

/** A code the service sent that this version of the client does not know is kept as is. */
export type CoherenceErrorCode = ServiceErrorCode | ClientErrorCode | (string & {});

/** One `details` entry of the service's error body (`{"index":2,"path":"value","message":"…"}`). */
export interface ErrorDetail {
  index?: number;
  path?: string;
  message?: string;
  [key: string]: unknown;
}

export class CoherenceError extends Error {
  override readonly name = "CoherenceError";
  /** The service's code, or the client's own. */
  readonly code: CoherenceErrorCode;
  /** HTTP status, or 0 when there was no answer (or none applies, e.g. a WebSocket close). */
  readonly status: number;
  readonly details: ErrorDetail[];
  /** Whether sending the same request again later may succeed (the client already did so, up to its limit). */
  readonly retryable: boolean;
  /** How many attempts the client made before giving up. */
  readonly attempts: number;

  constructor(
    code: CoherenceErrorCode,
    message: string,
    opts: { status?: number; details?: ErrorDetail[]; retryable?: boolean; attempts?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.status = opts.status ?? 0;
    this.details = opts.details ?? [];
    this.retryable = opts.retryable ?? false;
    this.attempts = opts.attempts ?? 1;
  }

  /** The same error with the number of attempts made. */
  withAttempts(attempts: number): CoherenceError {
    return new CoherenceError(this.code, this.message, {
      status: this.status,
      details: this.details,
      retryable: this.retryable,
      attempts,
      cause: this.cause,
    });
  }
}

/**
 * Whether an HTTP answer is worth sending again unchanged: 408, 429 and 5xx, and 409 `IDEMPOTENCY_KEY_IN_FLIGHT`
 * (the contract's "retry later, the first attempt is still being applied"). Every other 4xx is the request's fault.
 */
export function isRetryableStatus(status: number, code?: string): boolean {
  if (status === 408 || status === 429 || status >= 500) return true;
  return status === 409 && code === "IDEMPOTENCY_KEY_IN_FLIGHT";
}

function record(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function details(value: unknown): ErrorDetail[] {
  return Array.isArray(value) ? value.filter((d): d is ErrorDetail => record(d) !== null) : [];
}

/**
 * The error an answer carries: the REST shape `{"error":{code,message,details}}` or the GraphQL shape
 * `{"errors":[{message,extensions:{code,details}}]}` (docs/api.md §3). An unreadable body gets `HTTP_<status>`.
 */
export function errorFromAnswer(status: number, body: unknown): CoherenceError {
  const rest = record(record(body)?.error);
  if (rest && typeof rest.code === "string") {
    const message = typeof rest.message === "string" ? rest.message : rest.code;
    return new CoherenceError(rest.code, message, {
      status,
      details: details(rest.details),
      retryable: isRetryableStatus(status, rest.code),
    });
  }
  const errors = record(body)?.errors;
  const first = Array.isArray(errors) ? record(errors[0]) : null;
  if (first) {
    const ext = record(first.extensions);
    const code = typeof ext?.code === "string" ? ext.code : `HTTP_${status}`;
    const message = typeof first.message === "string" ? first.message : code;
    return new CoherenceError(code, message, {
      status,
      details: details(ext?.details),
      retryable: isRetryableStatus(status, code),
    });
  }
  return new CoherenceError(`HTTP_${status}`, `the service answered ${status}`, {
    status,
    retryable: isRetryableStatus(status),
  });
}
