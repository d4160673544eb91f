import {
  type DocumentNode,
  type ExecutionResult,
  execute,
  type FieldNode,
  type GraphQLSchema,
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  parse,
  validate,
} from "graphql";
import { operationKey, type PersistedRegistry } from "../graphql/persisted";
import type { SubscribePayload } from "./protocol";

/** The subscription fields of the schema. */
export type SubscriptionKind =
  | "coherenceEvents"
  | "tenantCoherenceUpdates"
  | "tenantCoherenceBreakdownUpdates"
  /** The operators' overview: served by the directory's object only (durable-objects/overview-hub.ts). */
  | "tenantsOverviewUpdates";

/** A subscribe request resolved against the registry and the schema. */
export interface ResolvedSubscription {
  kind: SubscriptionKind;
  /** Registered operation text; also the key under which rendered payloads are shared. */
  text: string;
  /** The tenant it names; `null` for the overview, which names none. */
  tenantId: string | null;
  after: string | null;
  variables: Record<string, unknown>;
}

export type Resolution = { ok: true; sub: ResolvedSubscription } | { ok: false; code: string; message: string };

interface Compiled {
  document: DocumentNode;
  kind: SubscriptionKind;
}

const compiled = new Map<string, Compiled | { error: string }>();

function compile(schema: GraphQLSchema, text: string): Compiled | { error: string } {
  const hit = compiled.get(text);
  if (hit) return hit;
  let result: Compiled | { error: string };
  try {
    const document = parse(text);
    const errors = validate(schema, document);
    const op = getOperationAST(document);
    const field = op?.selectionSet.selections[0];
    if (errors.length > 0) result = { error: errors[0]?.message ?? "invalid document" };
    else if (op?.operation !== "subscription") result = { error: "only subscription operations run here" };
    else if (op.selectionSet.selections.length !== 1 || field?.kind !== "Field") {
      result = { error: "a subscription selects exactly one field" };
    } else {
      result = { document, kind: field.name.value as SubscriptionKind };
    }
  } catch (err) {
    result = { error: err instanceof Error ? err.message : "invalid document" };
  }
  compiled.set(text, result);
  return result;
}

/**
 * Resolves a `subscribe` payload: names a persisted operation (`id`, `documentId`, APQ hash, or
 * byte-identical `query`; graphql-ws needs `query` to be a string, so `""` plus an id works), which must be
 * a subscription, with variables that coerce. Ad-hoc documents are refused here: a subscription's text
 * would have to live in the socket's small hibernation attachment.
 */
export function resolveSubscription(
  payload: SubscribePayload,
  registry: PersistedRegistry,
  schema: GraphQLSchema,
): Resolution {
  const key = operationKey(payload);
  let text: string | undefined;
  if (key !== null) {
    text = registry.byKey.get(key);
    if (text === undefined)
      return { ok: false, code: "PERSISTED_QUERY_NOT_FOUND", message: "no persisted operation has this id" };
  } else if (payload.query !== "" && registry.nameByText.has(payload.query)) {
    text = payload.query;
  } else {
    return { ok: false, code: "PERSISTED_QUERY_ONLY", message: "only persisted operations are accepted" };
  }
  const op = compile(schema, text);
  if ("error" in op) return { ok: false, code: "BAD_REQUEST", message: op.error };
  const operation = getOperationAST(op.document);
  if (!operation) return { ok: false, code: "BAD_REQUEST", message: "no operation" };
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], payload.variables ?? {});
  if (coerced.errors) {
    return { ok: false, code: "VALIDATION_FAILED", message: coerced.errors[0]?.message ?? "invalid variables" };
  }
  const fieldNode = operation.selectionSet.selections[0] as FieldNode;
  const fieldDef = schema.getSubscriptionType()?.getFields()[op.kind];
  if (!fieldDef) return { ok: false, code: "BAD_REQUEST", message: "unknown subscription field" };
  const args = getArgumentValues(fieldDef, fieldNode, coerced.coerced) as { tenantId?: string; after?: string | null };
  return {
    ok: true,
    sub: {
      kind: op.kind,
      text,
      tenantId: args.tenantId ?? null,
      after: args.after ?? null,
      variables: coerced.coerced,
    },
  };
}

/**
 * Renders one event for a subscription's selection set, exactly as graphql-js maps a subscription event:
 * the operation executed with the event as its root value. Returns the `next` payload.
 */
export function renderEvent(
  schema: GraphQLSchema,
  sub: Pick<ResolvedSubscription, "kind" | "text" | "variables">,
  value: unknown,
): ExecutionResult {
  const op = compile(schema, sub.text);
  if ("error" in op) return { errors: [] };
  return execute({
    schema,
    document: op.document,
    rootValue: { [sub.kind]: value },
    variableValues: sub.variables,
  }) as ExecutionResult;
}
