// A real OpenTelemetry Collector for tests: tools/otelcol (the collector's own otelcol, OTLP receiver and
// pdata modules, v0.165.0) built with `go build` into .cache/ on first use, started on loopback ports with a
// generated config. Plain Node (built-ins only); everything it prints goes to stderr.
//
// The OTLP receiver takes OTLP/HTTP (protobuf or JSON) on `otlpHttpUrl`; the distribution's "capture" exporter
// keeps every span it receives and serves them back as OTLP JSON on a second loopback port, which spans() reads.
// The pipeline has no queue or batching, so a span is readable as soon as the sender's POST has been answered.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { supervise } from "./child.mjs";
import { root } from "./env.mjs";
import { withDirLock } from "./lock.mjs";
import { freePort } from "./net.mjs";

export const OTELCOL_VERSION = "v0.165.0";
const projectDir = join(root, "tools", "otelcol");
const outDir = join(root, ".cache", "otelcol", OTELCOL_VERSION);
export const otelcolPath = join(outDir, "otelcol");
const stampPath = join(outDir, "build.stamp");
const lockDir = join(root, ".cache", "otelcol.lock");

const log = (/** @type {string} */ msg) => process.stderr.write(`[otelcol] ${msg}\n`);
const sleep = (/** @type {number} */ ms) => new Promise((ok) => setTimeout(ok, ms));

/**
 * A span as the collector received it, flattened from OTLP JSON (attribute values unwrapped).
 * @typedef {object} CollectedSpan
 * @property {string} traceId 32 lowercase hex digits.
 * @property {string} spanId 16 lowercase hex digits.
 * @property {string} parentSpanId 16 hex digits, or `""` for a root span.
 * @property {string} name
 * @property {"unspecified" | "internal" | "server" | "client" | "producer" | "consumer"} kind
 * @property {string} startTimeUnixNano Decimal string (OTLP JSON encodes 64-bit integers as strings).
 * @property {string} endTimeUnixNano
 * @property {Record<string, unknown>} attributes
 * @property {Array<{ name: string; attributes: Record<string, unknown> }>} events
 * @property {Array<{ traceId: string; spanId: string }>} links
 * @property {{ code: number; message: string }} status 0 unset, 1 ok, 2 error.
 * @property {Record<string, unknown>} resource The resource's attributes (`service.name` …).
 * @property {{ name: string; version: string }} scope
 */

/**
 * A running test collector.
 * @typedef {object} RunningCollector
 * @property {string} otlpHttpUrl Base URL of the OTLP/HTTP receiver (`POST {otlpHttpUrl}/v1/traces`): the value
 *   for OTEL_EXPORTER_OTLP_ENDPOINT.
 * @property {string} captureUrl Base URL of the capture exporter (`GET`/`DELETE {captureUrl}/v1/traces`).
 * @property {number | undefined} pid
 * @property {() => Promise<{ resourceSpans?: unknown[] }>} traces Everything received so far, as one OTLP JSON
 *   ExportTraceServiceRequest.
 * @property {() => Promise<CollectedSpan[]>} spans Everything received so far, one record per span, in arrival order.
 * @property {(predicate: (spans: CollectedSpan[]) => boolean, opts?: { timeoutMs?: number }) => Promise<CollectedSpan[]>} waitForSpans
 *   Polls spans() until `predicate` holds (default timeout 10 s); returns the spans that satisfied it.
 * @property {() => Promise<void>} clear Forgets every span received so far.
 * @property {() => string} output What the collector printed (warnings and errors only).
 * @property {() => Promise<void>} stop SIGTERM (SIGKILL after 10 s) and removal of the generated config.
 */

/**
 * The parts of OTLP JSON (ExportTraceServiceRequest) that `flattenSpans` reads.
 * @typedef {{ key: string; value?: OtlpAnyValue }} OtlpKeyValue
 * @typedef {{ stringValue?: string; boolValue?: boolean; intValue?: string | number; doubleValue?: number;
 *   arrayValue?: { values?: OtlpAnyValue[] }; kvlistValue?: { values?: OtlpKeyValue[] }; bytesValue?: string }} OtlpAnyValue
 * @typedef {{ resourceSpans?: Array<{ resource?: { attributes?: OtlpKeyValue[] }; scopeSpans?: Array<{
 *   scope?: { name?: string; version?: string }; spans?: Array<{ traceId: string; spanId: string;
 *   parentSpanId?: string; name: string; kind?: number; startTimeUnixNano: string; endTimeUnixNano: string;
 *   attributes?: OtlpKeyValue[]; events?: Array<{ name: string; attributes?: OtlpKeyValue[] }>;
 *   links?: Array<{ traceId: string; spanId: string }>; status?: { code?: number; message?: string } }> }> }> }} OtlpTraces
 */

/** Hash of what the binary depends on: the module files, the source and the Go toolchain. */
function buildHash() {
  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  if (go.error || go.status !== 0) {
    throw new Error(
      "[otelcol] Go is not installed: it builds tools/otelcol from the Go module proxy (https://go.dev/dl/)",
    );
  }
  const hash = createHash("sha256").update(go.stdout);
  for (const file of ["go.mod", "go.sum", "main.go"])
    hash
      .update(file)
      .update("\0")
      .update(readFileSync(join(projectDir, file)));
  return hash.digest("hex");
}

/** @param {string} want */
function isBuilt(want) {
  return existsSync(otelcolPath) && existsSync(stampPath) && readFileSync(stampPath, "utf8").trim() === want;
}

/**
 * `go build -v` in tools/otelcol, reporting progress (packages compiled, elapsed time) every 15 s.
 * @param {string} output
 * @returns {Promise<number>} the number of packages compiled
 */
function goBuild(output) {
  return new Promise((ok, fail) => {
    const started = Date.now();
    const args = ["build", "-v", "-trimpath", "-ldflags=-s -w", "-o", output, "."];
    const child = spawn("go", args, {
      cwd: projectDir,
      // GOTOOLCHAIN=local: build with the machine's Go; go.mod asks for nothing newer.
      env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false", GOTOOLCHAIN: "local" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let packages = 0;
    let errors = "";
    child.stderr.on("data", (d) => {
      for (const line of String(d).split("\n")) {
        if (/^[\w.-]+(\/[\w.~-]+)*$/.test(line.trim())) packages++;
        else if (line.trim()) errors += `${line}\n`;
      }
    });
    const timer = setInterval(() => {
      log(`… ${Math.round((Date.now() - started) / 1000)} s, ${packages} packages compiled`);
    }, 15_000);
    child.on("error", (err) => {
      clearInterval(timer);
      fail(new Error(`[otelcol] could not run go (${err.message})`));
    });
    child.on("exit", (code) => {
      clearInterval(timer);
      if (code === 0) ok(packages);
      else fail(new Error(`[otelcol] go ${args.join(" ")} failed (exit ${code}) in ${projectDir}:\n${errors}`));
    });
  });
}

/**
 * Builds tools/otelcol into .cache/otelcol/ when its sources or the Go toolchain changed since the last build (or
 * on a fresh clone). The first build downloads the modules from the Go module proxy (~10 s) and compiles ~940
 * packages: 4–7 minutes on 2 cores with a cold Go cache (measured 4 min 20 s alone, 6 min 28 s beside other
 * work). Later calls return at once. Returns the binary's path.
 */
export async function ensureOtelcol() {
  const want = buildHash();
  if (isBuilt(want)) return otelcolPath;
  await withDirLock(
    lockDir,
    async () => {
      if (isBuilt(want)) return; // another process built it while we waited
      mkdirSync(outDir, { recursive: true });
      log(`building the test collector (otelcol ${OTELCOL_VERSION}) from the Go module proxy into ${outDir}`);
      log("the first build takes about 4–7 minutes on 2 cores; later starts reuse the binary");
      const started = Date.now();
      const tmp = `${otelcolPath}.${process.pid}.tmp`;
      const packages = await goBuild(tmp);
      renameSync(tmp, otelcolPath);
      writeFileSync(stampPath, `${want}\n`);
      log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s (${packages} packages compiled)`);
    },
    { what: "the collector build lock" },
  );
  return otelcolPath;
}

/**
 * OTLP AnyValue (JSON form) → a plain JavaScript value.
 * @param {OtlpAnyValue | undefined} v
 * @returns {unknown}
 */
function anyValue(v) {
  if (!v || typeof v !== "object") return undefined;
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return Number(v.doubleValue);
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(anyValue);
  if (v.kvlistValue) return attributes(v.kvlistValue.values);
  if ("bytesValue" in v) return v.bytesValue;
  return undefined;
}

/**
 * @param {OtlpKeyValue[] | undefined} list
 * @returns {Record<string, unknown>}
 */
function attributes(list) {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
}

/** @type {Array<CollectedSpan["kind"]>} */
const KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];

/**
 * Flattens an OTLP JSON ExportTraceServiceRequest into one record per span.
 * @param {unknown} doc what the capture exporter served (OTLP JSON; see {@link OtlpTraces})
 * @returns {CollectedSpan[]}
 */
export function flattenSpans(doc) {
  /** @type {CollectedSpan[]} */
  const out = [];
  for (const rs of /** @type {OtlpTraces} */ (doc).resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? "",
          name: s.name,
          kind: KINDS[s.kind ?? 0] ?? "unspecified",
          startTimeUnixNano: s.startTimeUnixNano,
          endTimeUnixNano: s.endTimeUnixNano,
          attributes: attributes(s.attributes),
          events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attributes(e.attributes) })),
          links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? "" },
          resource,
          scope: { name: ss.scope?.name ?? "", version: ss.scope?.version ?? "" },
        });
      }
    }
  }
  return out;
}

/**
 * @param {number} otlpPort
 * @param {number} capturePort
 */
function configYaml(otlpPort, capturePort) {
  // Loopback only; the collector's own metrics endpoint (:8888 by default) is switched off.
  return `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlpPort}
exporters:
  capture:
    endpoint: 127.0.0.1:${capturePort}
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [capture]
`;
}

/**
 * Starts the test collector. `port` is the OTLP/HTTP port (default: any free one); the capture port is always
 * a free one. Builds the binary first when needed (see {@link ensureOtelcol}).
 *
 * @param {{ port?: number, timeoutMs?: number }} [opts]
 * @returns {Promise<RunningCollector>}
 */
export async function startCollector({ port, timeoutMs = 30_000 } = {}) {
  const bin = await ensureOtelcol();
  const otlpPort = port || (await freePort());
  const capturePort = await freePort();
  mkdirSync(join(root, ".tmp"), { recursive: true });
  const dir = mkdtempSync(join(root, ".tmp", "otelcol-"));
  const configPath = join(dir, "config.yaml");
  writeFileSync(configPath, configYaml(otlpPort, capturePort));

  const otlpHttpUrl = `http://127.0.0.1:${otlpPort}`;
  const captureUrl = `http://127.0.0.1:${capturePort}`;
  const child = spawn(bin, [`--config=${configPath}`], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  let output = "";
  const proc = supervise(child);
  child.on("error", (err) => {
    output += `spawn error: ${err.message}\n`;
  });
  child.stderr.on("data", (d) => {
    output += d;
    if (process.env.OTELCOL_VERBOSE) process.stderr.write(d);
  });

  const stop = async () => {
    await proc.terminate(10_000); // the collector shuts its pipelines down gracefully on SIGTERM
    rmSync(dir, { recursive: true, force: true });
  };

  // Exporters start before receivers, so an answer from the OTLP port means the whole pipeline is up.
  // An empty export request is valid OTLP and records nothing.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exited) {
      await stop();
      throw new Error(`[otelcol] the collector exited during start-up:\n${output}`);
    }
    try {
      const res = await fetch(`${otlpHttpUrl}/v1/traces`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"resourceSpans":[]}',
        signal: AbortSignal.timeout(2_000),
      });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`[otelcol] the OTLP receiver did not answer within ${timeoutMs} ms:\n${output}`);
    }
    await sleep(100);
  }

  const traces = async () => {
    const res = await fetch(`${captureUrl}/v1/traces`);
    if (!res.ok) throw new Error(`[otelcol] GET ${captureUrl}/v1/traces: HTTP ${res.status}`);
    return /** @type {{ resourceSpans?: unknown[] }} */ (await res.json());
  };
  const spans = async () => flattenSpans(await traces());
  /** @type {RunningCollector["waitForSpans"]} */
  const waitForSpans = async (predicate, { timeoutMs: waitMs = 10_000 } = {}) => {
    const until = Date.now() + waitMs;
    for (;;) {
      const all = await spans();
      if (predicate(all)) return all;
      if (Date.now() > until) {
        throw new Error(
          `[otelcol] spans did not arrive within ${waitMs} ms; received: ${JSON.stringify(all.map((s) => s.name))}`,
        );
      }
      await sleep(100);
    }
  };
  const clear = async () => {
    const res = await fetch(`${captureUrl}/v1/traces`, { method: "DELETE" });
    await res.arrayBuffer();
  };

  return { otlpHttpUrl, captureUrl, pid: child.pid, traces, spans, waitForSpans, clear, output: () => output, stop };
}
