import type { Span } from "./span";
import { traceContextFromHeaders } from "./trace-context";
import type { Tracer } from "./tracer";

/**
 * The root span of one HTTP request to the Worker (kind `server`). It continues the caller's trace when the
 * request carries a valid `traceparent`; the caller's `baggage` is ignored (see `traceContextFromHeaders`).
 * The name is the method until {@link endHttpServerSpan} knows the route.
 */
export function startHttpServerSpan(tracer: Tracer, request: Request): Span {
  if (!tracer.enabled) return tracer.startSpan("");
  const url = new URL(request.url);
  return tracer.startSpan(request.method, {
    kind: "server",
    parent: traceContextFromHeaders(request.headers),
    attributes: {
      "http.request.method": request.method,
      "url.path": url.pathname,
      "url.scheme": url.protocol.replace(/:$/, ""),
      "server.address": url.hostname,
      "user_agent.original": request.headers.get("user-agent") ?? undefined,
    },
  });
}

/**
 * Names the span `METHOD route` (OpenTelemetry HTTP conventions: the route template, never the raw path, so
 * names stay low-cardinality), records the status, marks 5xx answers as errors and ends the span.
 * `route` is `null` when no route matched (404).
 */
export function endHttpServerSpan(span: Span, status: number, route: string | null): void {
  if (!span.recording) return;
  const method = span.name;
  if (route && route !== "*") span.updateName(`${method} ${route}`).setAttribute("http.route", route);
  span.setAttribute("http.response.status_code", status);
  if (status >= 500) span.setAttribute("error.type", String(status)).setStatus("error");
  span.end();
}
