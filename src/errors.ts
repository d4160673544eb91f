import type { ValidationDetail } from "./domain/signal";

/**
 * Every error code the service answers with, on any transport (docs/api.md §3, §4, §6). The codes are the
 * contract; the status is what HTTP answers (GraphQL carries it to yoga, WebSocket frames ignore it).
 */
export type ErrorCode =
  // HTTP and GraphQL (docs/api.md §3, §4.3, §4.4)
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "PAYLOAD_TOO_LARGE"
  | "MALFORMED_JSON"
  | "VALIDATION_FAILED"
  | "RATE_LIMITED"
  | "IDEMPOTENCY_KEY_REUSED"
  | "IDEMPOTENCY_KEY_IN_FLIGHT"
  | "FEATURE_DISABLED"
  | "OPERATION_DISABLED"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "UPGRADE_REQUIRED"
  | "SERVICE_UNAVAILABLE"
  | "FINOPS_UNAVAILABLE"
  | "INTERNAL"
  // GraphQL only (docs/api.md §4.4)
  | "PERSISTED_QUERY_NOT_FOUND"
  | "PERSISTED_QUERY_ONLY"
  | "USE_WEBSOCKET"
  // WebSocket upgrade and frames (docs/api.md §6)
  | "UNSUPPORTED_SUBPROTOCOL"
  | "TOO_MANY_CONNECTIONS"
  | "TOO_MANY_SUBSCRIPTIONS"
  | "BAD_CURSOR"
  | "CURSOR_EXPIRED";

/**
 * The service's one error type, for every transport: a code, the HTTP status, a message safe to show, optional
 * details (validation problems) and response headers (`Retry-After`). Shared code throws it; each edge renders it
 * once: HTTP JSON ({@link errorResponse}, here, for the Worker and the object's refused upgrades), GraphQL
 * `errors[].extensions.code` (src/graphql/errors.ts), a WebSocket
 * error frame (src/realtime/protocol.ts). Durable Objects never throw it across RPC: they return outcomes
 * (src/domain/tenant-protocol.ts) that the Worker turns into it.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: ValidationDetail[] | Array<Record<string, unknown>>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "AppError";
  }
}

/** The 429 answer for a tenant over `RPS_MAX` (docs/api.md §5.3). */
export function rateLimited(retryAfterSeconds: number): AppError {
  return new AppError(429, "RATE_LIMITED", "too many requests for this tenant; retry later", undefined, {
    "Retry-After": String(retryAfterSeconds),
  });
}

/**
 * The HTTP rendering of an {@link AppError}: `{"error":{code,message,details}}`, or on `/graphql` the GraphQL shape
 * `{"errors":[{message,extensions:{code,details?}}]}`, with the error's status and headers (`Retry-After`, …).
 * Used by the Worker's error handler and by the tenant's object for a refused WebSocket upgrade (the one call it
 * answers over HTTP: a `WebSocket` travels only in a `fetch` response).
 */
export function errorResponse(err: AppError, shape: "rest" | "graphql" = "rest"): Response {
  let body: unknown;
  if (shape === "graphql") {
    const extensions: Record<string, unknown> = { code: err.code };
    if (err.details && err.details.length > 0) extensions.details = err.details;
    body = { errors: [{ message: err.message, extensions }] };
  } else {
    body = { error: { code: err.code, message: err.message, details: err.details ?? [] } };
  }
  const headers = new Headers({ "content-type": "application/json; charset=utf-8", ...err.headers });
  return new Response(JSON.stringify(body), { status: err.status, headers });
}
