import { normalizedExecutor } from "@graphql-tools/executor";
import {
  type DocumentNode,
  type ExecutionResult,
  GraphQLError,
  getOperationAST,
  type OperationDefinitionNode,
  parse,
  validate,
} from "graphql";
import { processRegularResult } from "graphql-yoga";
import { logEvent } from "../telemetry/log";
import type { GraphQLServerContext } from "./context";
import { maskError } from "./errors";
import { normalizeOperationParams, operationKey } from "./persisted";
import { persistedRegistry } from "./registry";
import { schema } from "./schema";

/**
 * The persisted-operation fast path: a POST that names a registered operation, with well-formed parameters, is
 * executed here with yoga's own executor (@graphql-tools/executor) against the document parsed and validated once
 * per isolate, and answered with yoga's own error masking and result processor. Everything else (GET, ad-hoc text, unknown ids, malformed
 * parameters, subscriptions) returns `null` and goes through yoga, which owns those answers.
 *
 * Why: persisted operations are fixed documents, so yoga's per-request pipeline (parameter parsing and
 * validation, plugin hooks, parse and validation caches, media-type negotiation over three processors) is work
 * with a known outcome. It was ~20 % of a persisted read's CPU (bench/RESULTS.md, "cost of each layer").
 * test/integration/graphql-fast-path.test.ts holds the two paths to byte-identical answers.
 */
export async function executePersisted(
  body: unknown,
  accept: string,
  context: GraphQLServerContext,
): Promise<Response | null> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return null;
  const params = body as Record<string, unknown>;
  for (const name in params) if (!PARAMS.has(name)) return null;
  const { operationName, variables, extensions } = params;
  if (operationName !== undefined && operationName !== null && typeof operationName !== "string") return null;
  if (!isPlainObjectOrAbsent(variables) || !isPlainObjectOrAbsent(extensions)) return null;
  if (params.query !== undefined && params.query !== null && typeof params.query !== "string") return null;
  const registry = await persistedRegistry;
  const key = operationKey(normalizeOperationParams(params, registry));
  const text = key === null ? undefined : registry.byKey.get(key);
  if (text === undefined) return null;
  const operation = prepared(text);
  if (!operation) return null;
  if (typeof operationName === "string" && operationName !== operation.name) return null;
  const mediaType = regularMediaType(accept);
  if (mediaType === null) return null;

  const executed = (await normalizedExecutor({
    schema,
    document: operation.document,
    variableValues: (variables ?? undefined) as Record<string, unknown> | undefined,
    contextValue: context,
  })) as ExecutionResult;
  const result = codeErrors(maskErrors(executed), context);
  return processRegularResult(result, { Response } as Parameters<typeof processRegularResult>[1], mediaType);
}

/** The parameters yoga accepts in a body (its own four and the route's `extraParamNames`). */
const PARAMS = new Set(["query", "operationName", "variables", "extensions", "id", "documentId"]);

function isPlainObjectOrAbsent(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === "object" && !Array.isArray(value));
}

interface PreparedOperation {
  document: DocumentNode;
  name: string | undefined;
}

/** Registered texts, parsed and validated once per isolate (plain data: safe to share across requests). */
const preparedByText = new Map<string, PreparedOperation | false>();

function prepared(text: string): PreparedOperation | false {
  let op = preparedByText.get(text);
  if (op === undefined) {
    op = prepare(text);
    preparedByText.set(text, op);
  }
  return op;
}

function prepare(text: string): PreparedOperation | false {
  let document: DocumentNode;
  try {
    document = parse(text);
  } catch {
    return false;
  }
  if (validate(schema, document).length > 0) return false;
  const operation: OperationDefinitionNode | null | undefined = getOperationAST(document);
  if (!operation || operation.operation === "subscription") return false;
  return { document, name: operation.name?.value };
}

const REGULAR_MEDIA_TYPES = ["application/graphql-response+json", "application/json"] as const;

/**
 * The media type yoga's regular-result processor answers with for this Accept header (its negotiation: utf-8
 * only, the first listed type that matches wins, `application/json` before `application/graphql-response+json`
 * where both match), or `null` when it would not be chosen.
 */
export function regularMediaType(accept: string): string | null {
  const requested: string[] = [];
  for (const entry of (accept || "*/*").replace(/\s/g, "").toLowerCase().split(",")) {
    const [mediaType, ...params] = entry.split(";");
    if (mediaType === undefined) continue;
    const charset = params.find((p) => p.includes("charset=")) ?? "charset=utf-8";
    if (charset === "charset=utf-8") requested.push(mediaType);
  }
  let chosen: string | null = null;
  for (const asked of requested.reverse()) {
    for (const offered of REGULAR_MEDIA_TYPES) if (matches(offered, asked)) chosen = offered;
  }
  return chosen;
}

function matches(offered: string, asked: string): boolean {
  const [offeredType, offeredSub] = offered.split("/");
  const [askedType, askedSub] = asked.split("/");
  return (askedType === "*" || askedType === offeredType) && (askedSub === "*" || askedSub === offeredSub);
}

/** The masking yoga applies (src/graphql/errors.ts): coded errors stay, anything else becomes "Unexpected error.". */
function maskErrors(result: ExecutionResult): ExecutionResult {
  if (!result.errors || result.errors.length === 0) return result;
  const errors = result.errors.map((err) => {
    const masked = maskError(err, "Unexpected error.") as GraphQLError;
    if (masked !== err) {
      logEvent({ level: "error", op: "graphql", error_code: "INTERNAL", message: err.message });
    }
    return masked;
  });
  return { ...result, errors };
}

/**
 * Gives every error an `extensions.code` (every /graphql failure carries one) and copies the first code into the
 * request's log line. graphql-js reports variable coercion problems (wrong type, unknown or missing input field)
 * without a code: they are the mutation's validation failures, so VALIDATION_FAILED. Used by both paths.
 */
export function codeErrors(result: ExecutionResult, context: Partial<GraphQLServerContext>): ExecutionResult {
  const errors = result.errors;
  if (!errors || errors.length === 0) return result;
  const executed = result.data !== undefined && result.data !== null;
  const coded = errors.map((err) => {
    if (err.extensions?.code !== undefined) return err;
    const code = executed ? "INTERNAL" : "VALIDATION_FAILED";
    return new GraphQLError(err.message, {
      nodes: err.nodes ?? null,
      path: err.path ?? null,
      extensions: { ...err.extensions, code },
    });
  });
  if (context.log) context.log.error_code = String(coded[0]?.extensions?.code);
  return { ...result, errors: coded };
}
