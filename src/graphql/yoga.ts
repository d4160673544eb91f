import { usePersistedOperations } from "@graphql-yoga/plugin-persisted-operations";
import { createSchema, createYoga, type Plugin } from "graphql-yoga";
import { sha256Hex } from "../domain/dedupe-key";
import type { GraphQLServerContext } from "./context";
import { gqlError } from "./errors";
import { buildRegistry, normalizeOperationParams, operationKey, PERSISTED_OPERATIONS } from "./persisted";
import { resolvers } from "./resolvers";
import { typeDefs } from "./schema.graphql";

const registry = buildRegistry(PERSISTED_OPERATIONS, sha256Hex);
/** Requests whose deployment allows ad-hoc operations (`ALLOW_ADHOC_OPERATIONS=true`). */
const adhocAllowed = new WeakSet<Request>();

/** Puts id/documentId/query-text forms into the one shape the persisted-operations plugin reads. */
const normalizePersistedParams: Plugin<GraphQLServerContext> = {
  async onParams({ params, setParams, request, context }) {
    // yoga types onParams' context as its base; the server context is what yoga.fetch was given.
    if ((context as Partial<GraphQLServerContext>).config?.allowAdhocOperations) adhocAllowed.add(request);
    setParams(normalizeOperationParams(params, await registry));
  },
};

/** Copies the first error's code into the request log line (errors never reach Hono's handler). */
const logErrorCode: Plugin<GraphQLServerContext> = {
  onResultProcess({ result, serverContext }) {
    const first = Array.isArray(result) ? result[0] : result;
    if (!first || Symbol.asyncIterator in first) return;
    const code = first.errors?.[0]?.extensions?.code;
    const log = (serverContext as Partial<GraphQLServerContext>).log;
    if (log && code !== undefined) log.error_code = String(code);
  },
};

/** The GraphQL server, created once per isolate (module scope). */
export const yoga = createYoga<GraphQLServerContext>({
  schema: createSchema<GraphQLServerContext>({ typeDefs, resolvers }),
  graphqlEndpoint: "/graphql",
  landingPage: false,
  graphiql: false,
  maskedErrors: true,
  extraParamNames: ["id", "documentId"],
  plugins: [
    logErrorCode,
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
