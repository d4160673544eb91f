// Hostile GraphQL bodies (docs/api.md §4.4), methods and paths for the fuzz tests: every way of naming an operation, right
// and wrong, variables of every wrong type, batches; traversal, encoded and very long paths, odd tenant segments.
import fc from "fast-check";
import {
  garbageTail,
  HTTP_TENANT,
  hostileFragment,
  INGEST_PATH,
  j,
  nearValidSignalText,
  OP_NAMES,
  type OpName,
  OTHER_TENANT,
  obj,
  PERSISTED,
  sha256,
  validSignalText,
} from "./json";

/** How a request names its operation: the contract's forms, and wrong ones. */
const addressingArb = (names: readonly OpName[]): fc.Arbitrary<Array<[string, string | undefined]>> =>
  fc.constantFrom(...names).chain((op) =>
    fc.oneof(
      fc.constant<Array<[string, string | undefined]>>([["id", j(op)]]),
      fc.constant<Array<[string, string | undefined]>>([["documentId", j(op)]]),
      fc.constant<Array<[string, string | undefined]>>([["query", j(PERSISTED[op])]]),
      fc
        .constantFrom(sha256(PERSISTED[op]), sha256(op))
        .map(
          (h): Array<[string, string | undefined]> => [
            ["extensions", `{"persistedQuery":{"version":1,"sha256Hash":${j(h)}}}`],
          ],
        ),
      fc
        .oneof(
          fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 }),
          fc.constant(sha256(PERSISTED[op]).toUpperCase()),
          fc.constant(sha256(PERSISTED[op]).slice(0, 63)),
        )
        .chain((h) =>
          fc
            .constantFrom("1", "2", '"1"', "null", "0")
            .map(
              (v): Array<[string, string | undefined]> => [
                ["extensions", `{"persistedQuery":{"version":${v},"sha256Hash":${j(h)}}}`],
              ],
            ),
        ),
      fc
        .oneof(
          fc.constantFrom(
            `${PERSISTED[op]} `,
            PERSISTED[op].replace(/ /g, ""),
            "{ __typename }",
            "{__schema{types{name}}}",
          ),
          fc.constantFrom(
            `query{${'tenantCoherence(tenantId:"x"){score} '.repeat(50)}}`,
            `{${"a{".repeat(500)}${"}".repeat(500)}}`,
          ),
          fc.constantFrom(
            'subscription{coherenceEvents(tenantId:"fuzz-http"){id}}',
            "mutation{x}",
            "query Q{...F} fragment F on Query{...F}",
          ),
          fc.string({ maxLength: 200 }),
        )
        .map((q): Array<[string, string | undefined]> => [["query", j(q)]]),
      fc
        .oneof(fc.string({ maxLength: 80 }), fc.constantFrom(op.toUpperCase(), `${op} `, "__proto__", "constructor"))
        .map((id): Array<[string, string | undefined]> => [["id", j(id)]]),
      fc.constantFrom<Array<[string, string | undefined]>>(
        [["id", "123"]],
        [["id", "null"]],
        [["query", "123"]],
        [["query", "null"]],
        [["documentId", "{}"]],
        [],
      ),
    ),
  );

const tenantValueArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant(j(HTTP_TENANT)) },
  { weight: 2, arbitrary: fc.constant(j(OTHER_TENANT)) },
  { weight: 3, arbitrary: hostileFragment },
  { weight: 1, arbitrary: fc.constant(j("x".repeat(200_000))) },
);

const variablesArb = (tenant: string): fc.Arbitrary<string | undefined> =>
  fc.oneof(
    tenantValueArb.map((t) => `{"tenantId":${t}}`),
    fc.oneof(validSignalText(tenant), nearValidSignalText(tenant)).map((s) => `{"input":${s}}`),
    fc.tuple(tenantValueArb, hostileFragment).map(([t, a]) => `{"tenantId":${t},"after":${a}}`),
    fc.constantFrom(undefined, "null", "[]", '"tenantId"', "{}", '{"tenantId":"fuzz-http","extra":1}'),
    fc.jsonValue({ maxDepth: 3 }).map(j),
  );

/** Hostile `POST /graphql` bodies as JSON text (some not JSON at all). */
export const graphqlBodyArb = (tenant: string): fc.Arbitrary<string> => {
  const single = fc
    .tuple(
      addressingArb(OP_NAMES),
      variablesArb(tenant),
      fc.constantFrom(undefined, "null", '"Q"', "123", j("x".repeat(300))),
    )
    .map(([addr, variables, operationName]) =>
      obj([...addr, ["variables", variables], ["operationName", operationName]]),
    );
  return fc.oneof(
    { weight: 12, arbitrary: single },
    { weight: 1, arbitrary: fc.array(single, { maxLength: 3 }).map((xs) => `[${xs.join(",")}]`) },
    { weight: 1, arbitrary: fc.constantFrom("null", "1", '"x"', "[]", "{}", "", "{", '{"query":', "\ufeff{}") },
    { weight: 1, arbitrary: fc.tuple(single, garbageTail).map(([s, t]) => s + t) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map(j) },
  );
};

// Methods and paths

export const methodArb = fc.constantFrom(
  "GET",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
  "HEAD",
  "PROPFIND",
  "FOO",
  "get",
  "post",
  "patch",
  "M-SEARCH",
  "QUERY",
);

const KNOWN_PATHS = [
  "/",
  "/healthz",
  INGEST_PATH,
  "/graphql",
  `/v1/tenants/${HTTP_TENANT}/graphql`,
  `/v1/tenants/${HTTP_TENANT}/provenance`,
  "/v1/finops/usage",
  "/metrics",
  "/v1/ops/dlq",
  "/v1/ops/dlq/replay",
  "/workbench/",
  "/favicon.ico",
];

const weirdSegment = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }).map(encodeURIComponent),
  fc.constantFrom("..", "%2e%2e", ".", "", "%2F", "a%2Fb", "%00", "%ff", "%", "%zz", "\\", "%5c", "x".repeat(129)),
  fc.constantFrom("fuzz-http%00", "FUZZ-HTTP", "*", "%2A", "fuzz-http;x=1", "fuzz http", "%E2%80%AE", "__proto__"),
);

export const pathArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...KNOWN_PATHS) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...KNOWN_PATHS),
        fc.constantFrom(
          "/",
          "//",
          "/..",
          "/../graphql",
          "/./",
          "%2F",
          "%20",
          ";x",
          "?",
          "?a=%ff",
          "#x",
          "%00",
          "/%2e%2e/",
        ),
        fc.boolean(),
      )
      .map(([p, tail, upper]) => (upper ? p.toUpperCase() : p) + tail),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom("", "/", "//"), fc.array(weirdSegment, { minLength: 1, maxLength: 5 }))
      .map(([lead, segs]) => `/${lead}${segs.join("/")}`),
  },
  { weight: 3, arbitrary: weirdSegment.map((t) => `/v1/tenants/${t}/graphql`) },
  // The provenance ledger (docs/api.md §4.7): odd tenants, ids and paging parameters.
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.constant(HTTP_TENANT), fc.constant(OTHER_TENANT), weirdSegment),
        fc.oneof(
          fc.constant(""),
          fc.uuid().map((u) => `/${u}`),
          weirdSegment.map((t) => `/${t}`),
        ),
        fc.constantFrom(
          "",
          "?after=0",
          "?after=-1",
          "?after=1e3",
          "?limit=0",
          "?limit=1001",
          "?limit=x",
          "?after=99999999999999999999",
        ),
      )
      .map(([t, id, query]) => `/v1/tenants/${t}/provenance${id}${query}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.constant(HTTP_TENANT), fc.constant(OTHER_TENANT), weirdSegment),
        fc.constantFrom("2026-01-01", "2026-13-01", "9999-99-99", "0001-01-01", "9999-12-31", "", "x", "2026-1-1"),
        fc.constantFrom("2026-01-02", "2025-01-01", "9999-12-31", "0001-01-01", "", "-1", "2026-02-30"),
      )
      .map(([t, from, to]) => `/v1/finops/usage?tenantId=${t}&from=${from}&to=${to}`),
  },
  { weight: 1, arbitrary: fc.constantFrom(2000, 8000, 16_000).map((n) => `/${"a".repeat(n)}`) },
  { weight: 1, arbitrary: fc.constantFrom(100, 1000).map((n) => `${"/..".repeat(n)}/graphql`) },
);
