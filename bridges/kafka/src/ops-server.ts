// The bridge's operations listener (loopback by default): `GET /metrics` (Prometheus text), `GET /healthz` (the
// process is up) and `GET /readyz` (joined the group and not shutting down), shaped like the Worker's (docs/api.md §4.2).
import { createServer, type Server } from "node:http";
import type { Metrics } from "./metrics.ts";

export function startOpsServer(opts: {
  host: string;
  port: number;
  metrics: Metrics;
  ready: () => boolean;
}): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      json(405, { error: { code: "METHOD_NOT_ALLOWED", message: "use GET", details: [] } });
    } else if (path === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(opts.metrics.render());
    } else if (path === "/healthz") {
      json(200, { status: "ok" });
    } else if (path === "/readyz") {
      const ready = opts.ready();
      json(ready ? 200 : 503, { status: ready ? "ok" : "starting" });
    } else {
      json(404, { error: { code: "NOT_FOUND", message: "no such route", details: [] } });
    }
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(opts.port, opts.host, () => {
      server.off("error", fail);
      ok(server);
    });
  });
}
