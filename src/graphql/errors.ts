import { GraphQLError } from "graphql";
import { maskError as yogaMaskError } from "graphql-yoga";
import { AppError, type ErrorCode } from "../errors";

/**
 * The GraphQL rendering of an {@link AppError}: `extensions.code` (and `details`), plus `extensions.http`, the
 * status and headers yoga answers with (yoga strips it from the body).
 */
export function toGraphQLError(err: AppError): GraphQLError {
  return new GraphQLError(err.message, { extensions: graphqlExtensions(err) });
}

/** `extensions` of an {@link AppError}'s GraphQL rendering. */
function graphqlExtensions(err: AppError): Record<string, unknown> {
  const extensions: Record<string, unknown> = {
    code: err.code,
    http: err.headers ? { status: err.status, headers: err.headers } : { status: err.status },
  };
  if (err.details && err.details.length > 0) extensions.details = err.details;
  return extensions;
}

/** A coded GraphQL error for places that must hand yoga a GraphQLError (plugin hooks, `subscribe`). */
export function gqlError(
  status: number,
  code: ErrorCode,
  message: string,
  details?: Array<Record<string, unknown>>,
  headers?: Record<string, string>,
): GraphQLError {
  return toGraphQLError(new AppError(status, code, message, details, headers));
}

/**
 * yoga's error masking for both paths (yoga's `maskedErrors`, and the persisted fast path): an {@link AppError}
 * thrown anywhere — a resolver, the tenant client, shared validation — is rendered as its coded GraphQL error;
 * anything else that is not a GraphQL error of ours becomes yoga's "Unexpected error.".
 */
export function maskError(error: unknown, message: string, isDev?: boolean): Error {
  if (error instanceof GraphQLError && error.originalError instanceof AppError) {
    // Rendered in place (graphql-js gave it the path and locations): yoga logs every error its masking replaces,
    // and an AppError is an answer, not a fault.
    (error as { extensions: Record<string, unknown> }).extensions = graphqlExtensions(error.originalError);
    return error;
  }
  if (error instanceof AppError) return toGraphQLError(error);
  return yogaMaskError(error, message, isDev);
}
