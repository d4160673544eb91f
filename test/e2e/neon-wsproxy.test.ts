// The real Neon driver (@neondatabase/serverless Pool, over WebSockets) against a local PostgreSQL through our
// WebSocket-to-TCP proxy (what Neon's wsproxy does), both started by scripts/lib/postgres.mjs on free loopback ports. The cluster in .cache/pg-test is
// reused between runs (initdb only on the first).
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { neonConfig, Pool, type WebSocketConstructor } from "@neondatabase/serverless";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  ensurePostgresInstalled,
  type RunningPostgres,
  type RunningWsproxy,
  startPostgres,
  startWsproxy,
} from "../../scripts/lib/postgres.mjs";
import { freePort } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";

const root = resolve(import.meta.dirname, "..", "..");
const run = promisify(execFile);
const table = "neon_wsproxy_e2e";

let pg: RunningPostgres | undefined;
let proxy: RunningWsproxy | undefined;
let pool: Pool;

// On a fresh machine this installs Postgres (apt-get, ~30 s); later runs take <1 s.
beforeAllOrFail(async () => {
  const pgPort = await freePort();
  let wsPort = await freePort();
  while (wsPort === pgPort) wsPort = await freePort();
  pg = await startPostgres({ dataDir: join(root, ".cache", "pg-test"), port: pgPort });
  proxy = await startWsproxy({ pgPort: pg.port, port: wsPort });
  neonConfig.wsProxy = proxy.url;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineConnect = false;
  neonConfig.webSocketConstructor = WebSocket as unknown as WebSocketConstructor;
  pool = new Pool({ connectionString: pg.url, max: 4 });
}, 300_000);

afterAll(async () => {
  await pool?.end();
  await proxy?.stop();
  await pg?.stop();
});

describe("@neondatabase/serverless through wsproxy to local Postgres", () => {
  it("starts both on loopback only", () => {
    expect(pg?.url).toBe(`postgres://coherence:coherence@127.0.0.1:${pg?.port}/coherence`);
    expect(proxy?.url).toBe(`127.0.0.1:${proxy?.port}/v1`);
  });

  it("connects as coherence to the coherence database over TCP on 127.0.0.1", async () => {
    const { rows } = await pool.query(
      "SELECT current_user AS who, current_database() AS db, host(inet_server_addr()) AS addr, inet_server_port() AS port",
    );
    expect(rows).toEqual([{ who: "coherence", db: "coherence", addr: "127.0.0.1", port: pg?.port }]);
  });

  it("creates a table, inserts with parameters and selects", async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.query(
      `CREATE TABLE ${table} (id serial PRIMARY KEY, name text NOT NULL, score double precision, tags jsonb,
        created_at timestamptz NOT NULL DEFAULT now())`,
    );
    const inserted = await pool.query(
      `INSERT INTO ${table} (name, score, tags) VALUES ($1, $2, $3), ($4, $5, $6) RETURNING id, name`,
      ["alpha", 0.5, JSON.stringify(["a"]), "beta", 0.75, JSON.stringify({ b: true })],
    );
    expect(inserted.rows).toEqual([
      { id: 1, name: "alpha" },
      { id: 2, name: "beta" },
    ]);
    const { rows } = await pool.query(`SELECT name, score, tags, created_at FROM ${table} ORDER BY id`);
    expect(rows.map((r) => [r.name, r.score, r.tags])).toEqual([
      ["alpha", 0.5, ["a"]],
      ["beta", 0.75, { b: true }],
    ]);
    expect(rows[0].created_at).toBeInstanceOf(Date);
  });

  it("commits and rolls back transactions on one pooled connection", async () => {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await client.query(`INSERT INTO ${table} (name, score) VALUES ($1, $2)`, ["rolled-back", 1]);
      expect((await client.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(3);
      await client.query("ROLLBACK");

      await client.query("BEGIN");
      await client.query(`INSERT INTO ${table} (name, score) VALUES ($1, $2)`, ["committed", 1]);
      await client.query(`UPDATE ${table} SET score = score * 2 WHERE name = $1`, ["alpha"]);
      await client.query("COMMIT");

      await client.query("BEGIN");
      await expect(client.query(`INSERT INTO ${table} (id, name) VALUES (1, 'duplicate')`)).rejects.toThrow(
        /duplicate key/,
      );
      await client.query("ROLLBACK");
    } finally {
      client.release();
    }
    const { rows } = await pool.query(`SELECT name, score FROM ${table} ORDER BY id`);
    expect(rows).toEqual([
      { name: "alpha", score: 1 },
      { name: "beta", score: 0.75 },
      { name: "committed", score: 1 },
    ]);
  });

  it("runs queries in parallel over several WebSocket connections", async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        pool.query("SELECT pg_backend_pid() AS pid, $1::int AS i, pg_sleep(0.1)", [i]),
      ),
    );
    expect(results.map((r) => r.rows[0].i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(results.map((r) => r.rows[0].pid)).size).toBeGreaterThan(1);
  });

  it("psql (an independent client) sees the committed rows", async () => {
    const psql = join(await ensurePostgresInstalled(), "psql");
    const { stdout } = await run(psql, [
      "-X",
      "-A",
      "-t",
      "-d",
      pg!.url,
      "-c",
      `SELECT name FROM ${table} ORDER BY id`,
    ]);
    expect(stdout.trim().split("\n")).toEqual(["alpha", "beta", "committed"]);
  });

  it("wsproxy refuses upstreams other than this cluster", async () => {
    const status = await new Promise<number>((ok, fail) => {
      const socket = new WebSocket(`ws://127.0.0.1:${proxy!.port}/v1?address=127.0.0.1:5432`);
      socket.on("unexpected-response", (_req, res) => {
        ok(res.statusCode ?? 0);
        socket.terminate();
      });
      socket.on("open", () => {
        socket.terminate();
        fail(new Error("wsproxy accepted a connection to 127.0.0.1:5432"));
      });
      socket.on("error", () => {});
    });
    expect(status).toBe(400);
  });
});
