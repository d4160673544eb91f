// Hostile request bodies and headers for the fuzz tests (docs/api.md §4.3): ingest bodies from random JSON to near-valid
// signals, NDJSON, invalid UTF-8 and bodies around 1 MiB; Content-Type, Idempotency-Key and junk headers.
import fc from "fast-check";
import { headerSafe } from "./auth";
import { garbageTail, invalidUtf8, nearValidSignalText, ONE_MIB, validSignalText } from "./json";

/** A request body as a recipe: literal text, raw bytes, or a big body built when sent. */
export type BodySpec =
  | { text: string }
  | { bytes: number[] }
  | { padded: string; to: number; fill: string }
  | { batch: number; of: string; extra: string };

/** The bytes or text a {@link BodySpec} stands for. */
export function bodyOf(spec: BodySpec): string | Uint8Array<ArrayBuffer> {
  if ("text" in spec) return spec.text;
  if ("bytes" in spec) return Uint8Array.from(spec.bytes);
  if ("padded" in spec) {
    const len = Buffer.byteLength(spec.padded);
    const fill = spec.fill.repeat(Math.max(0, Math.ceil((spec.to - len) / Math.max(1, spec.fill.length))));
    return spec.padded + fill.slice(0, Math.max(0, spec.to - len));
  }
  return `{"signals":[${Array.from({ length: spec.batch }, () => spec.of).join(",")}]${spec.extra}}`;
}

/** Hostile ingest bodies for `tenant` (docs/api.md §4.3); the costly ones (batches near 1,000, ~1 MiB bodies) are about 1 in 130. */
export const ingestBodyArb = (tenant: string): fc.Arbitrary<{ body: BodySpec; ndjson: boolean }> => {
  const one = fc.oneof(validSignalText(tenant), nearValidSignalText(tenant));
  const json = (text: string) => ({ body: { text } as BodySpec, ndjson: false });
  return fc.oneof(
    { weight: 48, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => json(JSON.stringify(v))) },
    { weight: 96, arbitrary: nearValidSignalText(tenant).map(json) },
    {
      weight: 64,
      arbitrary: fc
        .tuple(fc.array(validSignalText(tenant), { maxLength: 5 }), nearValidSignalText(tenant), fc.nat(5))
        .map(([valid, bad, at]) => json(`{"signals":[${valid.toSpliced(at, 0, bad).join(",")}]}`)),
    },
    { weight: 32, arbitrary: validSignalText(tenant).map(json) },
    {
      weight: 32,
      arbitrary: fc
        .tuple(one, fc.constantFrom('{"signals":', '{"signals":{}', '{"SIGNALS":[', '{"signals":null,"x":['))
        .map(([s, head]) => json(`${head}${s}]}`)),
    },
    {
      weight: 32,
      arbitrary: fc
        .tuple(one, garbageTail, fc.boolean())
        .map(([s, tail, bom]) => json(`${bom ? "\ufeff" : ""}${s}${tail}`)),
    },
    {
      weight: 48,
      arbitrary: fc
        .array(fc.oneof(one, fc.constantFrom("", "   ", "\r", "{", "[]", "null", "{}", "\ufeff{}", "1")), {
          minLength: 1,
          maxLength: 8,
        })
        .chain((lines) => fc.constantFrom("\n", "\r\n", "\n\n").map((sep) => lines.join(sep)))
        .map((text) => ({ body: { text } as BodySpec, ndjson: true })),
    },
    {
      weight: 32,
      arbitrary: fc.tuple(validSignalText(tenant), invalidUtf8, fc.nat()).map(([s, bad, at]) => {
        const bytes = [...Buffer.from(s, "utf8")];
        const quote = bytes.indexOf(0x22, 2 + (at % Math.max(1, bytes.length - 4)));
        const i = quote === -1 ? 1 : quote + 1; // just inside a string, or at the start
        return { body: { bytes: bytes.toSpliced(i, 0, ...bad) } as BodySpec, ndjson: false };
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(validSignalText(tenant), fc.constantFrom(0, 1, 999, 1000, 1001), fc.constantFrom("", ',"x":1'))
        .map(([of, batch, extra]) => ({ body: { batch, of, extra } as BodySpec, ndjson: false })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.oneof(validSignalText(tenant), fc.constant(`{"signals":[${"0,".repeat(300_000)}0]}`)),
          fc.constantFrom(ONE_MIB - 1, ONE_MIB, ONE_MIB + 1, 2 * ONE_MIB),
          fc.constantFrom(" ", "\n", "\t", "x"),
        )
        .map(([padded, to, fill]) => ({ body: { padded, to, fill } as BodySpec, ndjson: false })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom("type", "source", "signalId")
        .map((k) => json(`{"tenantId":${JSON.stringify(tenant)},"${k}":"${"x".repeat(ONE_MIB - 100)}","value":0.5}`)),
    },
  );
};

// Headers

export const contentTypeArb: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constantFrom(undefined, "application/json", "application/json; charset=utf-8", "APPLICATION/JSON"),
  fc.constantFrom("application/json;charset=utf-16", "application/json; charset=latin1", "application/vnd.api+json"),
  fc.constantFrom("application/x-ndjson", "application/ndjson", "application/jsonl", "text/plain", "text/json"),
  fc.constantFrom("application/json5", "application/javascript", "multipart/form-data; boundary=x", ""),
  fc.constantFrom("application/x-www-form-urlencoded", " application/json ", "application/json, text/plain", "*/*"),
  fc.constantFrom("application/*", "application/json\t;q=1", "application/json;;;", "application/+json", "json"),
  fc.mixedCase(fc.constant("application/json")),
  fc
    .tuple(fc.constantFrom("application/json", "application/x-ndjson"), fc.string({ unit: "binary-ascii" }))
    .map(([t, p]) => headerSafe(`${t}; ${p}`)),
  fc.string({ unit: "binary-ascii", maxLength: 60 }).map(headerSafe),
);

/** Idempotency-Key values fetch can send; control characters go over raw sockets (WireCase). */
export const idempotencyKeyArb: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constantFrom(undefined, "", "k", "key\tkey", "é-key", "  spaced  ", "\u00ff\u00fe"),
  fc.constantFrom(254, 255, 256, 4096, 12_000).map((n) => "k".repeat(n)),
  fc.string({ unit: "binary-ascii", minLength: 1, maxLength: 300 }).map(headerSafe),
);

const headerName = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,40}$/);
/** Junk headers besides the ones the service reads; names fetch may send. */
export const extraHeadersArb: fc.Arbitrary<Array<[string, string]>> = fc.array(
  fc.oneof(
    fc.tuple(fc.constant("content-encoding"), fc.constantFrom("gzip", "br", "deflate", "identity", "zstd", "x")),
    fc.tuple(fc.constant("accept"), fc.constantFrom("*/*", "text/html", "application/graphql-response+json", "")),
    fc.tuple(
      fc.constantFrom("x-http-method-override", "x-forwarded-for", "origin", "cookie", "range", "x-request-id"),
      fc.string({ unit: "binary-ascii", maxLength: 80 }).map(headerSafe),
    ),
    fc.tuple(headerName, fc.string({ unit: "binary-ascii", maxLength: 200 }).map(headerSafe)),
  ),
  { maxLength: 4 },
);
