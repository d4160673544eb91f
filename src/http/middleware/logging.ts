import { createMiddleware } from "hono/factory";
import { loadConfig } from "../../config";
import { metricsBuffer } from "../../metrics/collect";
import { METRICS, type Observation } from "../../metrics/model";
import type { AppEnv } from "../context";
import { logEvent } from "../log";

/**
 * Loads config, writes one JSON log line per request with the §8 fields (never headers or tokens), and records
 * the request's metrics (sent in a batch through `waitUntil`, so never on the latency path).
 */
export const requestLogging = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  const log = { op: "http", tenant_id: null, provenance_id: null, error_code: null };
  const observations: Observation[] = [];
  c.set("log", log);
  c.set("observations", observations);
  c.set("config", loadConfig(c.env));
  await next();
  const latencyMs = Math.round((performance.now() - started) * 100) / 100;
  logEvent({
    level: c.res.status >= 500 ? "error" : c.res.status >= 400 ? "warn" : "info",
    ...log,
    method: c.req.method,
    path: c.req.path,
    status: c.res.status,
    latency_ms: latencyMs,
  });
  const status = String(c.res.status);
  observations.push({ name: METRICS.httpRequests.name, labels: { op: log.op, status }, value: 1 });
  if (c.req.path === "/graphql") {
    observations.push(
      { name: METRICS.graphqlDuration.name, labels: { op: log.op }, value: latencyMs / 1000 },
      { name: METRICS.graphqlRequests.name, labels: { status }, value: 1 },
    );
  }
  const buffer = metricsBuffer(c.env.METRICS);
  buffer.add(observations);
  try {
    c.executionCtx.waitUntil(buffer.flushSoon());
  } catch {
    // No execution context (unit tests calling the app directly): nothing to send to.
  }
});
