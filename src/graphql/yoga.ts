import { usePersistedOperations } from "@graphql-yoga/plugin-persisted-operations";
import { GraphQLError } from "graphql";
import { createSchema, createYoga, type Plugin } from "graphql-yoga";
import type { GraphQLServerContext } from "./context";
import { gqlError } from "./errors";
import { normalizeOperationParams, operationKey } from "./persisted";
import { persistedRegistry as registry } from "./registry";
import { resolvers } from "./resolvers";
import { typeDefs } from "./schema.graphql";

/** Requests whose deployment allows ad-hoc operations (`ALLOW_ADHOC_OPERATIONS=true`). */
const adhocAllowed = new WeakSet<Request>();

/** Puts id/documentId/query-text forms into the one shape the persisted-operations plugin reads. */
const normalizePersistedParams: Plugin<GraphQLServerContext> = {
  async onParams({ params, setParams, request, context }) {
    // yoga types onParams' context as its base; the server context is what yoga.fetch was given.
    if ((context as Partial<GraphQLServerContext>).config?.allowAdhocOperations) adhocAllowed.add(request);
    // GET: yoga reads query/variables/operationName/extensions from the URL; `id`/`documentId` come from it too.
    let named = params as typeof params & { id?: unknown; documentId?: unknown };
    if (request.method === "GET") {
      const search = new URL(request.url).searchParams;
      const id = search.get("id");
      const documentId = search.get("documentId");
      if (id !== null) named = { ...named, id };
      if (documentId !== null) named = { ...named, documentId };
    }
    setParams(normalizeOperationParams(named, await registry));
  },
};

/**
 * Gives every error an `extensions.code` (contract §2: every /graphql failure carries one) and copies the
 * first code into the request's log line. graphql-js reports variable coercion problems (wrong type, unknown
 * or missing input field) without a code: they are the mutation's validation failures, so VALIDATION_FAILED.
 */
const codeEveryError: Plugin<GraphQLServerContext> = {
  onResultProcess({ result, setResult, serverContext }) {
    if (Array.isArray(result) || Symbol.asyncIterator in result) return;
    const errors = result.errors;
    if (!errors || errors.length === 0) return;
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
    setResult({ ...result, errors: coded });
    const log = (serverContext as Partial<GraphQLServerContext>).log;
    if (log) log.error_code = String(coded[0]?.extensions?.code);
  },
};

/**
 * POST bodies reach yoga already read, size-checked and parsed by the route (src/http/routes/graphql.ts), so
 * yoga does not read them a second time through a stream; the checks are those of yoga's own JSON parser.
 */
const preparsedBody: Plugin<GraphQLServerContext> = {
  onRequestParse({ serverContext, setRequestParser }) {
    const ctx = serverContext as Partial<GraphQLServerContext>;
    if (!ctx || !("parsedBody" in ctx)) return;
    const body = ctx.parsedBody;
    setRequestParser(() => {
      if (body === null || typeof body !== "object") {
        const what = body === null ? "null" : typeof body;
        throw new GraphQLError(`POST body is expected to be object but received ${what}`, {
          extensions: { http: { status: 400 }, code: "BAD_REQUEST" },
        });
      }
      return body as Record<string, unknown>;
    });
  },
};

/** The GraphQL server, created once per isolate (module scope). */
export const yoga = createYoga<GraphQLServerContext>({
  schema: createSchema<GraphQLServerContext>({ typeDefs, resolvers }),
  graphqlEndpoint: "/graphql",
  landingPage: false,
  graphiql: false,
  maskedErrors: true,
  // The route enforces the contract's 1 MiB before yoga sees a request.
  maxRequestBodySize: false,
  extraParamNames: ["id", "documentId"],
  plugins: [
    preparsedBody,
    codeEveryError,
    normalizePersistedParams,
    usePersistedOperations<GraphQLServerContext>({
      extractPersistedOperationId: (params) => operationKey(params as Parameters<typeof operationKey>[0]),
      getPersistedOperation: async (key) => (await registry).byKey.get(key) ?? null,
      allowArbitraryOperations: (request) => adhocAllowed.has(request),
      customErrors: {
        notFound: () => gqlError(400, "PERSISTED_QUERY_NOT_FOUND", "no persisted operation has this id"),
        keyNotFound: () =>
          gqlError(
            400,
            "PERSISTED_QUERY_NOT_FOUND",
            "the request names no persisted operation (id, documentId or sha256Hash)",
          ),
        persistedQueryOnly: () =>
          gqlError(
            400,
            "PERSISTED_QUERY_ONLY",
            "only persisted operations are accepted; send an id, documentId or sha256Hash",
          ),
      },
    }),
  ],
});
