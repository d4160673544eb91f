import type { AppError } from "../errors";

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
