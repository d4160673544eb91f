// Shared pieces of the fuzz generators: the tenants and persisted operations cases refer to, JSON helpers, and
// hostile JSON fragments and signals (docs/api.md §4.3, §4.4). Values are JSON *text*, so a case can carry what
// JSON.stringify never produces: 1e309, -0, duplicate keys, lone surrogates, broken syntax.
import { createHash } from "node:crypto";
import fc from "fast-check";

export const HTTP_TENANT = "fuzz-http";
export const WS_TENANT = "fuzz-ws";
export const OTHER_TENANT = "fuzz-other";
export const INGEST_PATH = "/v1/coherence/signals";
export const ONE_MIB = 1024 * 1024;

/** Persisted operations by name (docs/api.md §4.4), byte for byte. */
export const PERSISTED = {
  pq_tenant_coherence_v1: "query($tenantId:ID!){ tenantCoherence(tenantId:$tenantId){ score status updatedAt } }",
  pq_publish_signal_v1: "mutation($input:PublishCoherenceSignalInput!){ publishCoherenceSignal(input:$input) }",
  pq_tenant_coherence_full_v1:
    "query($tenantId:ID!){ tenantCoherence(tenantId:$tenantId){ tenantId score status updatedAt signalCount } }",
  pq_coherence_events_v1:
    "subscription($tenantId:ID!,$after:String){ coherenceEvents(tenantId:$tenantId,after:$after){ id type value weight source ts cursor } }",
  pq_tenant_coherence_updates_v1:
    "subscription($tenantId:ID!){ tenantCoherenceUpdates(tenantId:$tenantId){ tenantId score status updatedAt signalCount } }",
} as const;
export type OpName = keyof typeof PERSISTED;
export const OP_NAMES = Object.keys(PERSISTED) as OpName[];

export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
export const j = (v: unknown) => JSON.stringify(v);
export const obj = (entries: Array<[string, string | undefined]>) =>
  `{${entries.flatMap(([k, v]) => (v === undefined ? [] : [`${j(k)}:${v}`])).join(",")}}`;

/** Raw JSON texts (some of them not JSON at all) to put where a field's value goes. */
export const hostileFragment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("null", "true", "false", "[]", "{}", '""', '" "', '"0.5"', '"NaN"', '"Infinity"', '"-0"', '"1e309"'),
  fc.constantFrom("-0", "0", "1", "1.0", "-1", "2", "1e309", "-1e309", "1e-400", "5e-324", "1.7976931348623157e308"),
  fc.constantFrom("9007199254740993", "0.99999999999999999999999", "1E0", "-0.0", "1000000", "1e6", "1000000.0000001"),
  fc.constantFrom("NaN", "Infinity", "-Infinity", "0x1", "01", ".5", "+1", "1.", "--1", "1_0", "undefined", "'a'"),
  fc
    .constantFrom(0, 1, 127, 128, 129, 255, 256, 257, 4096)
    .chain((n) => fc.constantFrom("a", "é", "\u{1F600}", "\u202e", "\u0000").map((c) => JSON.stringify(c.repeat(n)))),
  fc.constantFrom('"\\ud800"', '"\\udc00x"', '"a\\u0000b"', '"\\u202eevil"', '"\\ufeff"', '"\\u2028\\u2029"'),
  fc.constantFrom('"fuzz http"', '"fuzz-http\\u0000"', '"FUZZ-HTTP"', '" fuzz-http"', `"${"t".repeat(129)}"`, '"*"'),
  fc.constantFrom('"2026-01-01"', '"not a date"', '"2026-13-01T00:00:00Z"', '"2999-01-01T00:00:00Z"'),
  fc.constantFrom('"1970-01-01T00:00:00Z"', '"0000-01-01T00:00:00Z"', '"9999-12-31T23:59:59.999999999Z"'),
  fc.constantFrom('"2026-02-30T00:00:00Z"', '"2026-01-01T00:00:00+25:00"', '"2026-01-01t00:00:00z"'),
  fc.constantFrom('"2016-12-31T23:59:60Z"', '"-002026-01-01T00:00:00Z"', '"2026-01-01T00:00:00.12345678901234567890Z"'),
  fc.constantFrom(100, 1000, 10_000, 100_000).map((d) => "[".repeat(d) + "]".repeat(d)),
  fc.constantFrom(100, 10_000).map((d) => `${'{"a":'.repeat(d)}1${"}".repeat(d)}`),
  fc.constantFrom('{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}'),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
);

const SIGNAL_FIELDS = ["tenantId", "signalId", "type", "source", "value", "weight", "ts"] as const;
const EXTRA_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "extra", "", "Value"];

/** A valid signal of `tenant` as JSON text fields (no `ts`: the server's receive time applies). */
const validFields = (tenant: string) =>
  fc.record({
    tenantId: fc.constant(JSON.stringify(tenant)),
    signalId: fc.option(
      fc.stringMatching(/^[a-z0-9-]{1,40}$/).map((s) => JSON.stringify(`fz-${s}`)),
      {
        nil: undefined,
      },
    ),
    type: fc.constantFrom("latency", "error_rate", "uptime").map((s) => JSON.stringify(s)),
    source: fc.constantFrom("probe", "fuzz", "edge").map((s) => JSON.stringify(s)),
    value: fc.double({ min: 0, max: 1, noNaN: true }).map((v) => JSON.stringify(v)),
    weight: fc.option(
      fc.double({ min: 0, max: 1e6, noNaN: true }).map((v) => JSON.stringify(v)),
      { nil: undefined },
    ),
  });

type Fields = Record<string, string | undefined>;
const objectText = (fields: Fields, extra: Array<[string, string]> = []) =>
  `{${[...Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined), ...extra]
    .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
    .join(",")}}`;

/** A valid signal of `tenant`, as JSON text. */
export const validSignalText = (tenant: string) => validFields(tenant).map((f) => objectText(f));

/** A valid signal with exactly one field spoiled: replaced, removed, duplicated, or joined by an extra key. */
export const nearValidSignalText = (tenant: string) =>
  fc
    .tuple(
      validFields(tenant),
      fc.constantFrom("replace", "remove", "duplicate", "extra"),
      fc.constantFrom(...SIGNAL_FIELDS),
      fc.constantFrom(...EXTRA_KEYS),
      hostileFragment,
    )
    .map(([fields, how, field, extraKey, raw]) => {
      const f: Fields = { ...fields };
      if (how === "replace") return objectText({ ...f, [field]: raw });
      if (how === "remove") return objectText({ ...f, [field]: undefined });
      if (how === "duplicate") return objectText(f, [[field, raw]]);
      return objectText(f, [[extraKey, raw]]);
    });

export const invalidUtf8: fc.Arbitrary<number[]> = fc.constantFrom(
  [0xff],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xfe, 0xfe],
  [0x80],
  [0xf4, 0x90, 0x80, 0x80],
);

export const garbageTail = fc.constantFrom("x", "}", ",", "\u0000", "\n{}", " // comment", "]", "\ufeff", '{"a":1}');
