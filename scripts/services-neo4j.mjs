// `node scripts/services-neo4j.mjs`: a local Neo4j 5.26 Community server for the Worker, on 127.0.0.1 only.
// HTTP (Query API) on NEO4J_HTTP_PORT (7474), Bolt on NEO4J_BOLT_PORT (7687); the store lives in NEO4J_DATA_DIR
// (default .tmp/neo4j-services) and is thrown away when the server stops. Ctrl-C (or SIGTERM) stops it.
// Prints the settings the Worker needs (NEO4J_URL, NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE) on stdout.
import { join } from "node:path";
import { root } from "./lib/env.mjs";
import { startNeo4j } from "./lib/neo4j.mjs";

const neo4j = await startNeo4j({
  httpPort: Number(process.env.NEO4J_HTTP_PORT ?? 7474),
  boltPort: Number(process.env.NEO4J_BOLT_PORT ?? 7687),
  dataDir: process.env.NEO4J_DATA_DIR ?? join(root, ".tmp", "neo4j-services"),
});

process.stdout.write(
  [
    `NEO4J_URL=${neo4j.httpUrl}`,
    `NEO4J_USER=${neo4j.user}`,
    `NEO4J_PASSWORD=${neo4j.password}`,
    `NEO4J_DATABASE=${neo4j.database}`,
    `# Bolt: ${neo4j.boltUrl}`,
    "# Ctrl-C stops Neo4j",
    "",
  ].join("\n"),
);

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`[neo4j] ${signal}: stopping…\n`);
  await neo4j.stop();
  process.stderr.write("[neo4j] stopped\n");
  process.exit(0);
}
neo4j.exited.then(({ code, signal }) => {
  if (stopping) return;
  process.stderr.write(
    `[neo4j] the server exited on its own (${signal ?? `code ${code}`})\n${neo4j.output().slice(-4000)}`,
  );
  process.exit(1);
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => void shutdown(signal));
