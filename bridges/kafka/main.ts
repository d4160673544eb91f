// `npm run bridge:kafka`: the Kafka bridge (docs/kafka-bridge.md), a Node process beside the Worker. Settings come from the
// environment (see docs/kafka-bridge.md). SIGTERM/SIGINT shut it down gracefully; a second signal exits at once.
import type { Server } from "node:http";
import { KafkaBridge } from "./src/bridge.ts";
import { type BridgeConfig, loadConfig } from "./src/config.ts";
import { logEvent } from "./src/log.ts";
import { Metrics } from "./src/metrics.ts";
import { startOpsServer } from "./src/ops-server.ts";

let config: BridgeConfig;
try {
  config = loadConfig(process.env);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}

const metrics = new Metrics();
const bridge = new KafkaBridge(config, logEvent, metrics);
let server: Server | null = null;
if (config.BRIDGE_METRICS_PORT > 0) {
  server = await startOpsServer({
    host: config.BRIDGE_METRICS_HOST,
    port: config.BRIDGE_METRICS_PORT,
    metrics,
    ready: () => bridge.ready,
  });
  const address = server.address();
  logEvent({
    op: "bridge_ops",
    listen: typeof address === "object" && address ? `http://${address.address}:${address.port}` : null,
  });
}

let stopping = false;
const shutdown = async (signal: string): Promise<void> => {
  if (stopping) {
    logEvent({ level: "warn", op: "bridge_stop", message: `second ${signal}: exiting now` });
    process.exit(1);
  }
  stopping = true;
  await bridge.stop();
  server?.close();
  process.exit(0);
};
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("uncaughtException", (err) => {
  logEvent({ level: "error", op: "bridge_crash", error_code: "INTERNAL", message: err.message });
  process.exit(1);
});

try {
  await bridge.start();
} catch (err) {
  logEvent({
    level: "error",
    op: "bridge_start",
    error_code: "KAFKA_UNAVAILABLE",
    message: err instanceof Error ? err.message : String(err),
  });
  await bridge.stop().catch(() => undefined);
  server?.close();
  process.exit(1);
}
