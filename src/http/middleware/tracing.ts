import { createMiddleware } from "hono/factory";
import { routePath } from "hono/route";
import { endHttpServerSpan, startHttpServerSpan } from "../../telemetry/http-server";
import { logEvent } from "../../telemetry/log";
import { createTracer, Tracer } from "../../telemetry/tracer";
import type { AppEnv } from "../context";

/** The no-op scope (benchmark only: `DEV_LAYERS_OFF=tracing` skips even the disabled tracer's bookkeeping). */
const DISABLED_SCOPE = { tracer: Tracer.disabled, span: Tracer.disabled.startSpan("") };

/**
 * The request's root span (kind `server`, continuing an incoming `traceparent`). Its spans go to the collector
 * in one OTLP request through `waitUntil` after the answer, never on the latency path. Without
 * `OTEL_EXPORTER_OTLP_ENDPOINT` the tracer is the shared disabled one and this costs next to nothing.
 */
export const requestTracing = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get("config").layersOff.has("tracing")) {
    c.set("trace", DISABLED_SCOPE);
    return next();
  }
  const tracer = createTracer(c.get("config").telemetry, {
    onError: (message) => logEvent({ level: "warn", op: "otlp_export", error_code: "OTLP_EXPORT_FAILED", message }),
  });
  const span = startHttpServerSpan(tracer, c.req.raw);
  c.set("trace", { tracer, span });
  try {
    await next();
  } finally {
    if (span.recording) endHttpServerSpan(span, c.res.status, routePath(c, -1));
    if (tracer.enabled) {
      const flushed = tracer.flush();
      try {
        c.executionCtx.waitUntil(flushed);
      } catch {
        // No execution context (unit tests calling the app directly): the export runs unattended.
      }
    }
  }
});
