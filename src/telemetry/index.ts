// Tracing for the Worker, the tenant objects and the queue consumer: W3C Trace Context and Baggage, explicit
// context passing, and an OTLP/HTTP JSON exporter flushed through `waitUntil`. See tracer.ts for the model.
export { type DbSystem, dbAttributes, postgresDatabase, withClientSpan } from "./db-client";
export { OtlpHttpJsonExporter, type SpanExporter, tracesUrl } from "./exporter";
export { endHttpServerSpan, startHttpServerSpan } from "./http-server";
export { QUEUE_SYSTEM, startQueueProcessSpan, startQueueSendSpan } from "./messaging";
export { rpcAttributes, tracedRpcCall, tracedRpcMethod } from "./rpc";
export {
  DEFAULT_SERVICE_NAME,
  parseTelemetrySettings,
  type TelemetrySettings,
  telemetryEnvSchema,
  toTelemetrySettings,
} from "./settings";
export type { Attributes, AttributeValue, FinishedSpan, ParentContext, Span, SpanKind, SpanLink } from "./span";
export {
  type Baggage,
  parseTraceContext,
  type RemoteParent,
  type TraceContext,
  traceContextFromHeaders,
  traceContextSchema,
} from "./trace-context";
export { createTracer, Tracer, type TraceScope, toTraceContext, traceHeaders } from "./tracer";
