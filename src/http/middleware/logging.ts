import { createMiddleware } from "hono/factory";
import { metricsBuffer } from "../../metrics/collect";
import { METRICS, type Observation } from "../../metrics/model";
import { type LogLevel, logEnabled, logEvent } from "../../telemetry/log";
import type { AppEnv } from "../context";

/**
 * Writes one JSON log line per request with the §8 fields (never headers or tokens), and records
 * the request's metrics (batched per isolate; see `MetricsBuffer` for why each send belongs to one request).
 */
export const requestLogging = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  const log = { op: "http", tenant_id: null, provenance_id: null, error_code: null };
  const observations: Observation[] = [];
  c.set("log", log);
  c.set("observations", observations);
  await next();
  const config = c.get("config");
  const latencyMs = Math.round((performance.now() - started) * 100) / 100;
  const code = c.res.status;
  const level: LogLevel = code >= 500 ? "error" : code >= 400 ? "warn" : "info";
  if (logEnabled(level)) {
    logEvent({ level, ...log, method: c.req.method, path: c.req.path, status: code, latency_ms: latencyMs });
  }
  if (config.layersOff.has("metrics")) return;
  const status = String(code);
  // Deployed: the Worker version's id, so `npm run canary:check` can tell a gradual deployment's versions apart.
  const version = c.env.CF_VERSION_METADATA?.id;
  const v: Record<string, string> = version ? { version } : {};
  observations.push({ name: METRICS.httpRequests.name, labels: { op: log.op, status, ...v }, value: 1 });
  if (c.req.path === "/graphql") {
    observations.push(
      { name: METRICS.graphqlDuration.name, labels: { op: log.op, ...v }, value: latencyMs / 1000 },
      { name: METRICS.graphqlRequests.name, labels: { status, ...v }, value: 1 },
    );
  }
  metricsBuffer(c.env.METRICS, config).record(observations, (send) => {
    try {
      c.executionCtx.waitUntil(send);
    } catch {
      // No execution context (unit tests calling the app directly): the send runs unattended.
    }
  });
});
