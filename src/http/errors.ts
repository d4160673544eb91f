import type { ValidationDetail } from "../domain/signal";

/** Error codes the service answers with (docs/api.md §3, §4.3, §4.4). */
export type ErrorCode =
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
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "UPGRADE_REQUIRED"
  | "SERVICE_UNAVAILABLE"
  | "FINOPS_UNAVAILABLE"
  | "INTERNAL";

/** The one error type of the HTTP layer; the error handler renders it (JSON or GraphQL shape). */
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

/** Body of a non-GraphQL error: `{"error":{code,message,details}}`. */
export function restErrorBody(err: AppError): { error: { code: string; message: string; details: unknown[] } } {
  return { error: { code: err.code, message: err.message, details: err.details ?? [] } };
}

/** Body of a GraphQL-endpoint error: `{"errors":[{message,extensions:{code}}]}`. */
export function graphqlErrorBody(err: AppError): {
  errors: Array<{ message: string; extensions: Record<string, unknown> }>;
} {
  const extensions: Record<string, unknown> = { code: err.code };
  if (err.details && err.details.length > 0) extensions.details = err.details;
  return { errors: [{ message: err.message, extensions }] };
}
