import { logEvent } from "./log";
import type { TelemetrySettings } from "./settings";
import type { Attributes } from "./span";
import { parseTraceContext, type TraceContext } from "./trace-context";
import { createTracer, type Tracer, type TraceScope, toTraceContext } from "./tracer";

/** Span name and attributes of a Durable Object RPC call (OpenTelemetry RPC conventions: `service/method`). */
export function rpcAttributes(service: string, method: string): Attributes {
  return { "rpc.system": "cloudflare_rpc", "rpc.service": service, "rpc.method": method };
}

/**
 * Calls a Durable Object RPC method inside a client span. `call` receives the {@link TraceContext} to pass as
 * an argument (RPC has no headers); it is `undefined` when tracing is off or there is no scope.
 */
export async function tracedRpcCall<T>(
  scope: TraceScope | undefined,
  service: string,
  method: string,
  call: (trace: TraceContext | undefined) => Promise<T>,
): Promise<T> {
  if (!scope?.tracer.enabled) return call(undefined);
  return scope.tracer.withSpan(
    `${service}/${method}`,
    { kind: "client", parent: scope.span, attributes: rpcAttributes(service, method) },
    (span) => call(toTraceContext(span)),
  );
}

/**
 * Runs the body of an RPC method inside a server span continuing the caller's trace (and baggage: the tenant
 * id arrives with it). The body gets a {@link TraceScope} for its own child spans. The caller flushes the tracer.
 */
export function tracedRpcMethod<T>(
  tracer: Tracer,
  service: string,
  method: string,
  trace: TraceContext | undefined,
  fn: (scope: TraceScope) => Promise<T> | T,
): Promise<T> {
  return tracer.withSpan(
    `${service}/${method}`,
    { kind: "server", parent: parseTraceContext(trace), attributes: rpcAttributes(service, method) },
    (span) => fn({ tracer, span }),
  );
}

/**
 * Serves one RPC call with a tracer of its own: `body` runs in a server span continuing the caller's `trace`
 * ({@link tracedRpcMethod}), and the call's spans are exported through `keepAlive` (the object's `waitUntil`) once
 * it returns. With tracing off `body` runs as it is, without a span.
 */
export async function servedRpc<T>(
  settings: TelemetrySettings | null,
  service: string,
  method: string,
  trace: TraceContext | undefined,
  keepAlive: (flush: Promise<void>) => void,
  body: (scope: TraceScope | undefined) => Promise<T> | T,
): Promise<T> {
  if (settings === null) return body(undefined);
  const tracer = createTracer(settings, {
    onError: (message) => logEvent({ level: "warn", op: "otlp_export", error_code: "OTLP_EXPORT_FAILED", message }),
  });
  try {
    return await tracedRpcMethod(tracer, service, method, trace, body);
  } finally {
    keepAlive(tracer.flush());
  }
}
