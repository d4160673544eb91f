import { Hono } from "hono";
import { authorize, denialMessage, recordDecision } from "../../auth/authz";
import { sha256Hex } from "../../domain/dedupe-key";
import { bodyKindOf } from "../../domain/ingest-body";
import { yoga } from "../../graphql/yoga";
import { decodeUtf8, readBodyLimited } from "../body";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { requireAuth } from "../middleware/auth";
import { requireCoherenceFeature } from "../middleware/feature-flag";

/**
 * `POST /graphql` (contract §5). HTTP-level checks (401, scope, 415, 413, malformed JSON) run here in the
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
    const headers = new Headers(c.req.raw.headers);
    const accept = headers.get("accept") ?? "";
    if (!/application\/(json|graphql-response\+json|\*)|\*\/\*/i.test(accept)) headers.set("accept", "*/*");
    let request: Request;
    let bodyHash = "";
    if (c.req.method === "POST") {
      if (bodyKindOf(c.req.header("content-type")) !== "json") {
        throw new AppError(415, "UNSUPPORTED_MEDIA_TYPE", "use Content-Type: application/json");
      }
      const bytes = await readBodyLimited(c.req.raw);
      const text = decodeUtf8(bytes);
      try {
        JSON.parse(text);
      } catch {
        throw new AppError(400, "MALFORMED_JSON", "request body is not valid JSON");
      }
      bodyHash = await sha256Hex(bytes);
      headers.set("content-type", "application/json");
      request = new Request(c.req.raw.url, { method: "POST", headers, body: text });
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
      request = new Request(c.req.raw.url, { method: "GET", headers });
    }
    const answer = await yoga.fetch(request, {
      env: c.env,
      config: c.get("config"),
      principal,
      log: c.get("log"),
      usage: c.get("usage"),
      observations: c.get("observations"),
      trace: c.get("trace"),
      bodyHash,
      receivedAtMs: Date.now(),
    });
    const delayMs = c.get("config").debugDelayMs;
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    return answer;
  },
);
