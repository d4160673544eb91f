import { usePersistedOperations } from "@graphql-yoga/plugin-persisted-operations";
import { GraphQLError } from "graphql";
import { createYoga, type Plugin } from "graphql-yoga";
import { adhocOperationsAllowed } from "../config";
import type { GraphQLServerContext } from "./context";
import { gqlError, maskError } from "./errors";
import { codeErrors } from "./execute";
import { normalizeOperationParams, operationKey } from "./persisted";
import { persistedRegistry as registry } from "./registry";
import { schema } from "./schema";

/** Requests whose deployment allows ad-hoc operations now (`ALLOW_ADHOC_OPERATIONS`, src/config.ts). */
const adhocAllowed = new WeakSet<Request>();

/** Puts id/documentId/query-text forms into the one shape the persisted-operations plugin reads. */
const normalizePersistedParams: Plugin<GraphQLServerContext> = {
  async onParams({ params, setParams, request, context }) {
    // yoga types onParams' context as its base; the server context is what yoga.fetch was given.
    const config = (context as Partial<GraphQLServerContext>).config;
    if (config && adhocOperationsAllowed(config, Date.now())) adhocAllowed.add(request);
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

/** Every error gets an `extensions.code` and the first lands in the log line (shared with the fast path). */
const codeEveryError: Plugin<GraphQLServerContext> = {
  onResultProcess({ result, setResult, serverContext }) {
    if (Array.isArray(result) || Symbol.asyncIterator in result) return;
    if (!result.errors || result.errors.length === 0) return;
    setResult(codeErrors(result, serverContext as Partial<GraphQLServerContext>));
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
  schema,
  graphqlEndpoint: "/graphql",
  landingPage: false,
  graphiql: false,
  maskedErrors: { maskError },
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
