// What the contract promises for any HTTP request, however hostile (§1, §2, §5): no 5xx, every 4xx in the right
// JSON error shape, credentials checked first, no leaks, and no other tenant's data. Pure: a case and its answer in,
// the reason it breaks the contract out (null when it holds).
import { validRole } from "./auth";
import type { HttpCase, WireCase } from "./http-cases";
import { HTTP_TENANT, INGEST_PATH } from "./json";

/** One HTTP answer as the runner saw it. */
export interface HttpAnswer {
  status: number;
  contentType: string;
  /** Raw header block, to look for leaks. */
  headerText: string;
  text: string;
}

const UPPER_SNAKE = /^[A-Z][A-Z0-9_]*$/;
/** Traces of a stack or the machine's files in a body. */
const STACK_TRACE = /\n\s+at\s|\bat [\w.$<>]+ \(|\.(?:ts|js|mjs):\d+:\d+|node_modules|file:\/\//;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `{"error":{"code","message","details":[]}}`, or why not. */
function restShapeProblem(body: unknown): string | null {
  if (!isObject(body) || !isObject(body.error)) return "not {error:{...}}";
  const { code, message, details } = body.error;
  if (typeof code !== "string" || !UPPER_SNAKE.test(code)) return `error.code ${JSON.stringify(code)}`;
  if (typeof message !== "string") return "error.message is not a string";
  if (!Array.isArray(details)) return "error.details is not an array";
  return null;
}

/** `{"errors":[{"message","extensions":{"code"}}]}` (codes required on failures), or why not. */
function graphqlShapeProblem(body: unknown, failure: boolean): string | null {
  if (!isObject(body)) return "not a JSON object";
  if ("error" in body) return "REST error shape on /graphql";
  if (!Array.isArray(body.errors) || body.errors.length === 0) return failure ? "no errors[]" : null;
  for (const e of body.errors) {
    if (!isObject(e) || typeof e.message !== "string") return "an error without a message";
    if (e.message === "Unexpected error.") return "a masked internal error (Unexpected error.)";
    const code = isObject(e.extensions) ? e.extensions.code : undefined;
    if (code === "INTERNAL" || code === "INTERNAL_SERVER_ERROR") return `an internal error (${code})`;
    if (failure && (typeof code !== "string" || !UPPER_SNAKE.test(code)))
      return `extensions.code ${JSON.stringify(code)}`;
  }
  return null;
}

/** The path the service routes on, after URL normalization; and whether it is `/graphql` (raw, or decoded). */
function routeOf(path: string): { pathname: string; graphql: "yes" | "maybe" | "no" } {
  const pathname = new URL(`http://h${path.startsWith("/") ? "" : "/"}${path}`).pathname;
  if (pathname === "/graphql") return { pathname, graphql: "yes" };
  let decoded = pathname;
  try {
    decoded = decodeURI(pathname);
  } catch {}
  return { pathname, graphql: decoded.toLowerCase().includes("graphql") ? "maybe" : "no" };
}

/** The variables a GraphQL request carried (POST body or GET `variables`), when there is one set of them. */
function requestVariables(c: HttpCase): Json | null {
  let body: unknown;
  if (c.body && "text" in c.body) body = parse(c.body.text);
  else {
    const raw = new URL(`http://h${c.path}`).searchParams.get("variables");
    body = { variables: raw === null ? undefined : parse(raw) };
  }
  return isObject(body) && isObject(body.variables) ? body.variables : null;
}

/** Checks that no secret string is in the answer (body or headers). */
export function leakIn(res: HttpAnswer, secrets: readonly string[]): string | null {
  for (const s of secrets) {
    if (res.text.includes(s) || res.headerText.includes(s)) return `the answer contains a secret (${s.slice(0, 6)}…)`;
  }
  return null;
}

/** Methods the runtime routes to the Worker whatever their spelling; others may be refused before it. */
const STANDARD_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);

/** The method as fetch sends it: it upper-cases only these six (Fetch standard), so `patch` stays `patch`. */
function sentMethod(method: string): string {
  const upper = method.toUpperCase();
  return ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"].includes(upper) ? upper : method;
}

/** Why the answer to an HTTP case breaks the contract, or null. */
export function checkHttp(c: HttpCase, res: HttpAnswer, secrets: readonly string[]): string | null {
  // RFC 9110 §9.1: an unrecognized method gets 501 from the server itself (workerd refuses e.g. M-SEARCH, FOO
  // before any Worker code runs); that is HTTP's answer to a bad method, not a failure of the service.
  const method = sentMethod(c.method);
  if (res.status === 501 && !STANDARD_METHODS.has(method)) return null;
  if (res.status >= 500) return `status ${res.status}`;
  const leak = leakIn(res, secrets);
  if (leak) return leak;
  if (STACK_TRACE.test(res.text)) return "a stack trace or file path in the body";
  const { pathname, graphql } = routeOf(c.path);
  const body = parse(res.text);
  if (res.status >= 400 && method !== "HEAD") {
    if (!/json/i.test(res.contentType)) return `a ${res.status} answered with content-type ${res.contentType}`;
    const shape =
      graphql === "yes"
        ? graphqlShapeProblem(body, true)
        : graphql === "no"
          ? restShapeProblem(body)
          : restShapeProblem(body) && graphqlShapeProblem(body, true);
    if (shape) return `error shape: ${shape}`;
  }
  const role = validRole(c.auth);
  const code = (): unknown =>
    graphql === "yes"
      ? isObject(body) && Array.isArray(body.errors) && isObject(body.errors[0]) && isObject(body.errors[0].extensions)
        ? body.errors[0].extensions.code
        : undefined
      : isObject(body) && isObject(body.error)
        ? body.error.code
        : undefined;
  const guarded =
    (pathname === INGEST_PATH && method === "POST") || (pathname === "/graphql" && /^(GET|POST)$/.test(method));
  if (guarded && role === null && (res.status !== 401 || code() !== "UNAUTHENTICATED")) {
    return `no valid credential, yet ${res.status} ${String(code())} (401 UNAUTHENTICATED comes first)`;
  }
  if (pathname === INGEST_PATH && method === "POST" && role !== null) {
    if (role !== "write" && role !== "foreign" && (res.status !== 403 || code() !== "FORBIDDEN")) {
      return `a ${role} token without coherence:write got ${res.status} ${String(code())}, not 403 FORBIDDEN`;
    }
    if (res.status < 300 && role !== "write") return `a ${role} token wrote signals (${res.status})`;
    if (res.status < 300 && (res.status !== 202 || !isObject(body) || typeof body.provenanceId !== "string")) {
      return `success is not 202 with a provenanceId: ${res.status}`;
    }
  }
  // The provenance ledger: a tenant's own entries, for tokens with coherence:read only (docs/api.md §4.7).
  const provenance = /^\/v1\/tenants\/([^/]+)\/provenance(\/[^/]+)?$/.exec(pathname);
  if (provenance && method === "GET") {
    if (role === null && (res.status !== 401 || code() !== "UNAUTHENTICATED")) {
      return `no valid credential, yet ${res.status} ${String(code())} on the provenance ledger`;
    }
    if (res.status < 300) {
      if (role !== "read" && role !== "write") return `a ${String(role)} token read the provenance ledger`;
      let named = provenance[1] as string;
      try {
        named = decodeURIComponent(named);
      } catch {
        // Not decodable: compared as sent.
      }
      if (named !== HTTP_TENANT) return `the ledger answered for tenant ${provenance[1]}`;
      const entries = isObject(body) ? (Array.isArray(body.entries) ? body.entries : [body.entry]) : [];
      if (entries.some((e) => !isObject(e) || e.tenantId !== HTTP_TENANT)) return "an entry of another tenant";
    }
  }
  if (pathname === "/graphql" && /^(GET|POST)$/.test(method) && role === "noscope" && res.status !== 403) {
    return `a token without a GraphQL scope got ${res.status}, not 403`;
  }
  if (pathname === "/graphql" && isObject(body) && isObject(body.data)) {
    const vars = requestVariables(c);
    if (body.data.tenantCoherence != null) {
      if (role !== "read" && role !== "write") return `a ${String(role)} token read tenantCoherence`;
      if (vars?.tenantId !== HTTP_TENANT) return `tenantCoherence answered for ${JSON.stringify(vars?.tenantId)}`;
    }
    if (body.data.publishCoherenceSignal === true) {
      const input = isObject(vars?.input) ? vars.input : null;
      if (role !== "write") return `a ${String(role)} token published a signal`;
      if (input?.tenantId !== HTTP_TENANT) return `published for tenant ${JSON.stringify(input?.tenantId)}`;
    }
  }
  return null;
}

/** Why the answer to a raw-socket case breaks the contract, or null. */
export function checkWire(c: WireCase, res: HttpAnswer, secrets: readonly string[]): string | null {
  if (res.status >= 500 || res.status < 100) return `status ${res.status}`;
  const leak = leakIn(res, secrets);
  if (leak) return leak;
  if (STACK_TRACE.test(res.text)) return "a stack trace or file path in the body";
  if (res.status < 400) return null;
  // The runtime's HTTP parser refuses some bytes (NUL, bad lengths) before any Worker code runs: plain 400.
  if (!/json/i.test(res.contentType)) return res.status === 400 ? null : `a ${res.status} in ${res.contentType}`;
  const body = parse(res.text);
  const shape = c.path === "/graphql" ? graphqlShapeProblem(body, true) : restShapeProblem(body);
  return shape ? `error shape: ${shape}` : null;
}
