import { Hono } from "hono";
import { ConfigError } from "../config";
import { AppError, errorResponse } from "../errors";
import { logEvent } from "../telemetry/log";
import type { AppEnv } from "./context";
import { withConfig } from "./middleware/config";
import { requestLogging } from "./middleware/logging";
import { requestTracing } from "./middleware/tracing";
import { countUsage } from "./middleware/usage";
import { finopsRoutes } from "./routes/finops";
import { graphqlRoutes } from "./routes/graphql";
import { healthRoutes } from "./routes/health";
import { ingestRoutes } from "./routes/ingest";
import { opsRoutes } from "./routes/ops";
import { provenanceRoutes } from "./routes/provenance";
import { realtimeRoutes } from "./routes/realtime";
import { workbenchRoutes } from "./routes/workbench";

/** The Worker's HTTP app: routes, the one error handler, JSON 404/405. */
export const app = new Hono<AppEnv>();

app.use("*", withConfig);
app.use("*", requestLogging);
app.use("*", requestTracing);
app.use("*", countUsage);
app.route("/", healthRoutes);
app.route("/", ingestRoutes);
app.route("/", graphqlRoutes);
app.route("/", realtimeRoutes);
app.route("/", opsRoutes);
app.route("/", finopsRoutes);
app.route("/", provenanceRoutes);
app.route("/", workbenchRoutes);

const KNOWN_PATHS = new Set([
  "/healthz",
  "/readyz",
  "/v1/coherence/signals",
  "/graphql",
  "/v1/ops/dlq",
  "/v1/ops/dlq/replay",
  "/v1/ops/switches",
  "/v1/finops/usage",
  "/metrics",
]);

app.notFound((c) => {
  const known = KNOWN_PATHS.has(c.req.path) || c.req.path === "/workbench" || c.req.path.startsWith("/workbench/");
  const err = known
    ? new AppError(405, "METHOD_NOT_ALLOWED", `${c.req.method} is not allowed on ${c.req.path}`)
    : new AppError(404, "NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`);
  const log = c.get("log");
  if (log) log.error_code = err.code;
  return render(c.req.path, err);
});

app.onError((err, c) => {
  let appErr: AppError;
  if (err instanceof AppError) {
    appErr = err;
  } else if (err instanceof ConfigError) {
    logEvent({ level: "error", op: "config", message: err.message, error_code: "SERVICE_UNAVAILABLE" });
    appErr = new AppError(503, "SERVICE_UNAVAILABLE", "the service is misconfigured");
  } else {
    // Unexpected: log what we know, answer with nothing internal.
    logEvent({ level: "error", op: "unhandled", message: err instanceof Error ? err.message : String(err) });
    appErr = new AppError(500, "INTERNAL", "internal error");
  }
  const log = c.get("log");
  if (log) log.error_code = appErr.code;
  return render(c.req.path, appErr);
});

function render(path: string, err: AppError): Response {
  return errorResponse(err, path === "/graphql" ? "graphql" : "rest");
}
