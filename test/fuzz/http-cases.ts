// Whole hostile HTTP requests for the fuzz tests, one arbitrary per group (ingest bodies, headers, GraphQL, paths).
// A case is plain data: credentials by role, big bodies as recipes built when sent.
import fc from "fast-check";
import { type AuthSpec, authArb, tokenAuth } from "./auth";
import { type BodySpec, contentTypeArb, extraHeadersArb, idempotencyKeyArb, ingestBodyArb } from "./bodies";
import { graphqlBodyArb, methodArb, pathArb } from "./graphql-paths";
import { HTTP_TENANT, INGEST_PATH, validSignalText } from "./json";

/** One HTTP request as data. `group` says which arbitrary made it. */
export interface HttpCase {
  group: "ingest" | "headers" | "graphql" | "paths";
  method: string;
  path: string;
  auth: AuthSpec;
  headers: Array<[string, string]>;
  body: BodySpec | null;
}

const header = (name: string, value: string | undefined): Array<[string, string]> =>
  value === undefined ? [] : [[name, value]];

/** Mostly the tenant's own valid writer, so most cases reach validation; the rest any credential. */
const mostlyWriter = fc.oneof(
  { weight: 6, arbitrary: fc.constant(tokenAuth("write")) },
  { weight: 1, arbitrary: authArb },
);

export const ingestCaseArb: fc.Arbitrary<HttpCase> = fc
  .tuple(ingestBodyArb(HTTP_TENANT), mostlyWriter, fc.constantFrom("application/x-ndjson", "application/ndjson"))
  .map(([{ body, ndjson }, auth, ndType]) => ({
    group: "ingest",
    method: "POST",
    path: INGEST_PATH,
    auth,
    headers: [["content-type", ndjson ? ndType : "application/json"]],
    body,
  }));

export const headersCaseArb: fc.Arbitrary<HttpCase> = fc
  .record({
    graphql: fc.boolean(),
    auth: authArb,
    contentType: contentTypeArb,
    idempotencyKey: idempotencyKeyArb,
    extra: extraHeadersArb,
    signal: validSignalText(HTTP_TENANT),
  })
  .map((r) => ({
    group: "headers",
    method: "POST",
    path: r.graphql ? "/graphql" : INGEST_PATH,
    auth: r.auth,
    headers: [
      ...header("content-type", r.contentType),
      ...header("idempotency-key", r.idempotencyKey),
      ...r.extra.filter(([name]) => !/^(content-type|idempotency-key|authorization)$/i.test(name)),
    ],
    body: {
      text: r.graphql ? `{"id":"pq_tenant_coherence_v1","variables":{"tenantId":"${HTTP_TENANT}"}}` : r.signal,
    },
  }));

/** A GraphQL body as GET parameters (strings as they are, other values as JSON); non-objects as `query`. */
export function graphqlGetQuery(text: string): string {
  const params = new URLSearchParams();
  try {
    const body: unknown = JSON.parse(text);
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw new TypeError("not an object");
    for (const [k, v] of Object.entries(body)) params.set(k, typeof v === "string" ? v : JSON.stringify(v));
  } catch {
    // Not JSON, not an object, or too deep to re-encode (JSON.stringify recurses): send the text as the query.
    params.set("query", text.slice(0, 4000));
  }
  return params.toString().slice(0, 8000);
}

export const graphqlCaseArb: fc.Arbitrary<HttpCase> = fc
  .tuple(
    graphqlBodyArb(HTTP_TENANT),
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(tokenAuth("write"), tokenAuth("read")) },
      { weight: 1, arbitrary: authArb },
    ),
    fc.nat(9),
  )
  .map(([text, auth, pick]) =>
    pick === 0
      ? {
          group: "graphql",
          method: "GET",
          path: `/graphql?${graphqlGetQuery(text)}`,
          auth,
          headers: [],
          body: null,
        }
      : {
          group: "graphql",
          method: "POST",
          path: "/graphql",
          auth,
          headers: [["content-type", "application/json"]],
          body: { text },
        },
  );

export const pathsCaseArb: fc.Arbitrary<HttpCase> = fc
  .record({
    method: methodArb,
    path: pathArb,
    auth: authArb,
    text: fc.option(fc.json({ maxDepth: 2 }), { nil: undefined }),
  })
  .map(({ method, path, auth, text }) => ({
    group: "paths",
    method,
    path,
    auth,
    headers: text === undefined ? [] : [["content-type", "application/json"]],
    body: text === undefined || /^(GET|HEAD)$/i.test(method) ? null : { text },
  }));

/**
 * A request written byte by byte on a TCP socket: header values with bytes `fetch` refuses (control characters,
 * NUL), repeated headers, and Content-Length / chunked framing that disagrees with the body.
 */
export interface WireCase {
  group: "wire";
  path: string;
  auth: AuthSpec;
  headers: Array<[string, string]>;
  body: string;
  framing: "length" | "short-length" | "chunked" | "length+chunked";
  /** Bytes short of the body (short-length), chunk size (chunked), or the stated length (length+chunked). */
  n: number;
}

const controlValue = fc.oneof(
  fc.string({ unit: "binary-ascii", maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, "")),
  fc.constantFrom("", "\u0001\u0002", "\u007f", "a\u0000b", "k".repeat(256), "\u001b[31m"),
);

export const wireCaseArb: fc.Arbitrary<WireCase> = fc.record({
  group: fc.constant("wire" as const),
  path: fc.constantFrom(INGEST_PATH, "/graphql"),
  auth: fc.oneof({ weight: 3, arbitrary: fc.constant(tokenAuth("write")) }, { weight: 1, arbitrary: authArb }),
  headers: fc.array(
    fc.tuple(
      fc.constantFrom("Content-Type", "Idempotency-Key", "Authorization", "X-Junk", "Accept", "Content-Type"),
      fc.oneof(
        controlValue,
        fc.constantFrom("application/json", "application/x-ndjson", "text/plain", "application/json\u0001"),
      ),
    ),
    { maxLength: 4 },
  ),
  body: fc.oneof(
    validSignalText(HTTP_TENANT),
    fc.constant(`{"id":"pq_tenant_coherence_v1","variables":{"tenantId":"${HTTP_TENANT}"}}`),
  ),
  framing: fc.constantFrom("length", "length", "short-length", "chunked", "length+chunked"),
  n: fc.integer({ min: 1, max: 64 }),
});
