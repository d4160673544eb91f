// Types for otelcol.mjs (plain JavaScript so it runs on the system Node), for the TypeScript tests.

export declare const OTELCOL_VERSION: string;
/** Where the built collector binary lives (.cache/otelcol/<version>/otelcol). */
export declare const otelcolPath: string;

/** A span as the collector received it, flattened from OTLP JSON (attribute values unwrapped). */
export interface CollectedSpan {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** 16 lowercase hex digits. */
  spanId: string;
  /** 16 hex digits, or `""` for a root span. */
  parentSpanId: string;
  name: string;
  kind: "unspecified" | "internal" | "server" | "client" | "producer" | "consumer";
  /** Decimal string (OTLP JSON encodes 64-bit integers as strings). */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, unknown>;
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
  links: Array<{ traceId: string; spanId: string }>;
  /** 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  /** The resource's attributes (`service.name` …). */
  resource: Record<string, unknown>;
  scope: { name: string; version: string };
}

export interface RunningCollector {
  /** Base URL of the OTLP/HTTP receiver (`POST {otlpHttpUrl}/v1/traces`): the value for OTEL_EXPORTER_OTLP_ENDPOINT. */
  otlpHttpUrl: string;
  /** Base URL of the capture exporter (`GET`/`DELETE {captureUrl}/v1/traces`). */
  captureUrl: string;
  pid: number | undefined;
  /** Everything received so far, as one OTLP JSON ExportTraceServiceRequest. */
  traces(): Promise<{ resourceSpans?: unknown[] }>;
  /** Everything received so far, one record per span, in arrival order. */
  spans(): Promise<CollectedSpan[]>;
  /** Polls spans() until `predicate` holds (default timeout 10 s); returns the spans that satisfied it. */
  waitForSpans(predicate: (spans: CollectedSpan[]) => boolean, opts?: { timeoutMs?: number }): Promise<CollectedSpan[]>;
  /** Forgets every span received so far. */
  clear(): Promise<void>;
  /** What the collector printed (warnings and errors only). */
  output(): string;
  /** SIGTERM (SIGKILL after 10 s) and removal of the generated config. */
  stop(): Promise<void>;
}

/** Builds tools/otelcol into .cache/ when missing or stale (first time: ~4–7 min on 2 cores); returns its path. */
export declare function ensureOtelcol(): Promise<string>;
/** Starts the collector on 127.0.0.1: OTLP/HTTP on `port` (default: a free one), the capture API on a free port. */
export declare function startCollector(opts?: { port?: number; timeoutMs?: number }): Promise<RunningCollector>;
/** Flattens an OTLP JSON ExportTraceServiceRequest into one record per span. */
export declare function flattenSpans(doc: unknown): CollectedSpan[];
