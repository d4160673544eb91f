// `npm run services`: the real local sink stack for trying the service out — PostgreSQL (Debian), the WebSocket
// proxy the Neon driver needs, and Neo4j 5.26 Community (Maven Central harness) — all on 127.0.0.1, data under
// .cache/services/. Migrates both, prints the settings to give `npm start`, and runs until Ctrl-C.
import { join } from "node:path";
import { ensureDeps } from "./lib/deps.mjs";
import { root } from "./lib/env.mjs";
import { startNeo4j } from "./lib/neo4j.mjs";
import { startPostgres, startWsproxy } from "./lib/postgres.mjs";
import { migrateNeo4j, migratePostgres } from "./migrate.mjs";

ensureDeps();
const dir = join(root, ".cache", "services");
const pg = await startPostgres({ dataDir: join(dir, "pg"), port: Number(process.env.PG_PORT ?? 54329) });
const proxy = await startWsproxy({ pgPort: pg.port, port: Number(process.env.WSPROXY_PORT ?? 54330) });
const neo4j = await startNeo4j({
  httpPort: Number(process.env.NEO4J_HTTP_PORT ?? 7474),
  boltPort: Number(process.env.NEO4J_BOLT_PORT ?? 7687),
  dataDir: join(dir, "neo4j"),
  profile: "server",
});
migratePostgres(pg.url);
await migrateNeo4j({ url: neo4j.httpUrl, user: neo4j.user, password: neo4j.password, database: neo4j.database });

process.stdout.write(`
Sinks are up. Start the service with them (in another terminal), or put these lines in .dev.vars:

NEO4J_URL=${neo4j.httpUrl}
NEO4J_USER=${neo4j.user}
NEO4J_PASSWORD=${neo4j.password}
NEO4J_DATABASE=${neo4j.database}
DATABASE_URL=${pg.url}
NEON_WSPROXY=${proxy.url}

Neo4j Bolt (for neo4j-driver / cypher-shell): ${neo4j.boltUrl}. Ctrl-C stops everything.
`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled([neo4j.stop(), proxy.stop()]);
    await pg.stop();
    process.exit(0);
  });
}
