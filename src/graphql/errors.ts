import { GraphQLError } from "graphql";
import { AppError } from "../http/errors";

/** A GraphQL error with a contract code and the HTTP status yoga should answer with. */
export function gqlError(
  status: number,
  code: string,
  message: string,
  details?: unknown[],
  headers?: Record<string, string>,
): GraphQLError {
  const extensions: Record<string, unknown> = { code, http: headers ? { status, headers } : { status } };
  if (details && details.length > 0) extensions.details = details;
  return new GraphQLError(message, { extensions });
}

/** Maps an {@link AppError} raised by shared code to its GraphQL form; other errors pass through (masked). */
export function toGraphQLError(err: unknown): unknown {
  if (err instanceof AppError) return gqlError(err.status, err.code, err.message, err.details, err.headers);
  return err;
}
