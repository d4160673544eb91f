import { createMiddleware } from "hono/factory";
import { loadConfig } from "../../config";
import type { AppEnv } from "../context";
import { logEvent } from "../log";

/** Loads config and writes one JSON log line per request with the §8 fields (never headers or tokens). */
export const requestLogging = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  const log = { op: "http", tenant_id: null, provenance_id: null, error_code: null };
  c.set("log", log);
  c.set("config", loadConfig(c.env));
  await next();
  logEvent({
    level: c.res.status >= 500 ? "error" : c.res.status >= 400 ? "warn" : "info",
    ...log,
    method: c.req.method,
    path: c.req.path,
    status: c.res.status,
    latency_ms: Math.round((performance.now() - started) * 100) / 100,
  });
});
