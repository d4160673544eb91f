import { Hono } from "hono";
import { authorize, denialMessage, recordDecision } from "../../auth/authz";
import { bodyKindOf } from "../../domain/ingest-body";
import { AppError } from "../../errors";
import type { GraphQLServerContext } from "../../graphql/context";
import { executePersisted } from "../../graphql/execute";
import { type OperationRef, persistedOperationName } from "../../graphql/persisted";
import { persistedRegistry } from "../../graphql/registry";
import { yoga } from "../../graphql/yoga";
import { decodeUtf8, readBodyLimited } from "../body";
import { type AppEnv, requestContext } from "../context";
import { requireAuth } from "../middleware/auth";
import { requireCoherenceFeature } from "../middleware/feature-flag";

/**
 * `POST /graphql` (docs/api.md §4.4). HTTP-level checks (401, scope, 415, 413, malformed JSON) run here in the
 * contract's order, then the buffered body goes to yoga, which resolves persisted operations and executes.
 */
export const graphqlRoutes = new Hono<AppEnv>().on(
  ["GET", "POST"],
  "/graphql",
  async (c, next) => {
    c.get("log").op = "graphql";
    await next();
  },
  requireCoherenceFeature,
  requireAuth,
  async (c) => {
    const principal = c.get("principal");
    const decision = await authorize("graphql", principal);
    recordDecision(c.get("log"), "graphql", decision);
    if (!decision.scopeOk) throw new AppError(403, "FORBIDDEN", denialMessage("graphql", decision));
    // yoga sees one canonical request: JSON in, JSON out (the route has already judged the client's media types;
    // yoga would answer other spellings of JSON, or an Accept without JSON, with an empty 415/406).
    const accept = c.req.header("accept") ?? "";
    const acceptOk = /application\/(json|graphql-response\+json|\*)|\*\/\*/i.test(accept);
    let request: Request = c.req.raw;
    let body: Uint8Array<ArrayBuffer> = new Uint8Array(0);
    let parsed: { parsedBody: unknown } | null = null;
    if (c.req.method === "POST") {
      if (bodyKindOf(c.req.header("content-type")) !== "json") {
        throw new AppError(415, "UNSUPPORTED_MEDIA_TYPE", "use Content-Type: application/json");
      }
      body = await readBodyLimited(c.req.raw);
      try {
        parsed = { parsedBody: JSON.parse(decodeUtf8(body)) };
      } catch {
        throw new AppError(400, "MALFORMED_JSON", "request body is not valid JSON");
      }
    } else {
      // GET (queries only): the JSON-valued parameters must parse, as a POST body must.
      const search = new URL(c.req.url).searchParams;
      for (const name of ["variables", "extensions"]) {
        const value = search.get(name);
        if (value === null) continue;
        try {
          JSON.parse(value);
        } catch {
          throw new AppError(400, "MALFORMED_JSON", `the ${name} parameter is not valid JSON`);
        }
      }
      if (!acceptOk) {
        const headers = new Headers(c.req.raw.headers);
        headers.set("accept", "*/*");
        request = new Request(c.req.raw.url, { method: "GET", headers });
      }
    }
    const disabledOps = c.get("switches").disabledOps;
    if (disabledOps.size > 0) await refuseDisabledOperation(disabledOps, parsed?.parsedBody ?? getParams(c.req.url));
    const context: GraphQLServerContext = {
      ...requestContext(c),
      body,
      ...parsed,
      receivedAtMs: Date.now(),
    };
    // A registered operation with well-formed parameters is executed directly; anything else is yoga's to answer.
    let answer = parsed && (await executePersisted(parsed.parsedBody, acceptOk ? accept : "*/*", context));
    if (!answer) {
      if (parsed) {
        // The body is handed over parsed (yoga's preparsedBody plugin); the request carries only what yoga reads.
        const headers = new Headers({ "content-type": "application/json", accept: acceptOk ? accept : "*/*" });
        request = new Request(c.req.raw.url, { method: "POST", headers });
      }
      answer = await yoga.fetch(request, context);
    }
    const delayMs = c.get("config").debugDelayMs;
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    return answer;
  },
);

/** A GET request's GraphQL parameters (the JSON-valued ones already checked to parse). */
function getParams(url: string): OperationRef {
  const search = new URL(url).searchParams;
  const extensions = search.get("extensions");
  return {
    query: search.get("query") ?? undefined,
    id: search.get("id") ?? undefined,
    documentId: search.get("documentId") ?? undefined,
    extensions: extensions === null ? undefined : JSON.parse(extensions),
  };
}

/**
 * The per-operation switch (`op:<name>` on, docs/api.md §4.11): a registered operation that is switched off is
 * answered with a static 503 `OPERATION_DISABLED` instead of running — the seed's "repoint persisted query to
 * static value (503) during incident". Other operations are unaffected.
 */
async function refuseDisabledOperation(disabledOps: ReadonlySet<string>, params: unknown): Promise<void> {
  if (params === null || typeof params !== "object" || Array.isArray(params)) return;
  const name = persistedOperationName(params as OperationRef, await persistedRegistry);
  if (name !== null && disabledOps.has(name)) {
    throw new AppError(503, "OPERATION_DISABLED", `operation ${name} is switched off for now`, undefined, {
      "Retry-After": "60",
    });
  }
}
