import type { Attributes } from "./span";
import { parseTraceContext, type TraceContext } from "./trace-context";
import { type Tracer, type TraceScope, toTraceContext } from "./tracer";

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
