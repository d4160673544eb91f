// A real Neo4j 5.26 Community server (scripts/lib/neo4j.mjs, Neo4j's test harness from Maven Central) on free
// loopback ports: the HTTP Query API with plain fetch, as the Worker will call it, checked over Bolt with the
// official neo4j-driver. tools/neo4j-harness/README.md records the request and response shapes seen here.
import neo4jDriver, { type Driver } from "neo4j-driver";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningNeo4j, startNeo4j } from "../../scripts/lib/neo4j.mjs";
import { beforeAllOrFail } from "../support/vitest-hooks";

interface QueryError {
  code: string;
  message: string;
}
interface QueryResponse {
  data?: { fields: string[]; values: unknown[][] };
  counters?: Record<string, number | boolean>;
  notifications?: { code: string; severity: string }[];
  bookmarks?: string[];
  errors?: QueryError[];
}

let neo4j: RunningNeo4j | undefined;
let driver: Driver | undefined;

function server(): RunningNeo4j {
  if (!neo4j) throw new Error("Neo4j did not start");
  return neo4j;
}

async function query(
  statement: string,
  parameters: Record<string, unknown> = {},
  opts: { auth?: boolean; extra?: Record<string, unknown> } = {},
): Promise<{ status: number; body: QueryResponse }> {
  const { httpUrl, user, password, database } = server();
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (opts.auth !== false) headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const res = await fetch(`${httpUrl}/db/${database}/query/v2`, {
    method: "POST",
    headers,
    body: JSON.stringify({ statement, parameters, ...opts.extra }),
  });
  return { status: res.status, body: (await res.json()) as QueryResponse };
}

// The first run on a machine builds the launcher with Maven (downloads ~190 MB, a minute or two); later starts
// take seconds.
beforeAllOrFail(async () => {
  neo4j = await startNeo4j();
  driver = neo4jDriver.driver(server().boltUrl, neo4jDriver.auth.basic(server().user, server().password));
}, 600_000);

afterAll(async () => {
  await driver?.close();
  const pid = neo4j?.pid;
  await neo4j?.stop();
  if (pid !== undefined) expect(() => process.kill(pid, 0)).toThrow(); // the JVM is gone
}, 120_000);

describe("Neo4j 5.26 harness", () => {
  it("serves the discovery document on 127.0.0.1", async () => {
    const { httpUrl, boltUrl } = server();
    expect(httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(boltUrl).toMatch(/^bolt:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${httpUrl}/`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, string>;
    expect(body.neo4j_version).toMatch(/^5\.26\./);
    expect(body.neo4j_edition).toBe("community");
    expect(body.query).toBe(`${httpUrl}/db/{databaseName}/query/v2`);
  });

  it("refuses the Query API without credentials", async () => {
    const { status, body } = await query("RETURN 1 AS one", {}, { auth: false });
    expect(status).toBe(401);
    expect(body.errors?.[0]?.code).toBe("Neo.ClientError.Security.Unauthorized");
  });

  it("runs a parameterised MERGE through the Query API", async () => {
    const { status, body } = await query(
      "UNWIND $rows AS r MERGE (t:Tenant {tenant_id:r.t}) RETURN count(t) AS n",
      { rows: [{ t: "a" }, { t: "b" }] },
      { extra: { includeCounters: true } },
    );
    expect(status).toBe(202);
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ fields: ["n"], values: [[2]] });
    expect(body.counters).toMatchObject({ containsUpdates: true, nodesCreated: 2, labelsAdded: 2, propertiesSet: 2 });
    expect(body.bookmarks).toHaveLength(1);
  });

  it("creates a uniqueness constraint and enforces it", async () => {
    const created = await query(
      "CREATE CONSTRAINT tenant_id_unique IF NOT EXISTS FOR (t:Tenant) REQUIRE t.tenant_id IS UNIQUE",
    );
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ data: { fields: [], values: [] } });
    expect(created.body.errors).toBeUndefined();

    // Idempotent with IF NOT EXISTS; without it, a second CREATE is an error.
    expect(
      (await query("CREATE CONSTRAINT tenant_id_unique IF NOT EXISTS FOR (t:Tenant) REQUIRE t.tenant_id IS UNIQUE"))
        .status,
    ).toBe(202);
    const again = await query("CREATE CONSTRAINT tenant_id_unique FOR (t:Tenant) REQUIRE t.tenant_id IS UNIQUE");
    expect(again.status).toBe(400);
    expect(again.body.errors?.[0]?.code).toBe("Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists");

    // A violation found before any row streams: HTTP 400, errors only.
    const plain = await query("CREATE (t:Tenant {tenant_id:$id})", { id: "a" });
    expect(plain.status).toBe(400);
    expect(plain.body.data).toBeUndefined();
    expect(plain.body.errors).toEqual([
      { code: "Neo.ClientError.Schema.ConstraintValidationFailed", message: expect.stringContaining("tenant_id") },
    ]);

    // A violation while rows stream: HTTP 202 with data (rows already sent) *and* errors. The transaction is
    // rolled back all the same, so a client must treat any `errors` as failure, whatever the status.
    const streamed = await query("UNWIND $ids AS id CREATE (t:Tenant {tenant_id:id}) RETURN id", { ids: ["zz", "a"] });
    expect(streamed.status).toBe(202);
    expect(streamed.body.data?.fields).toEqual(["id"]);
    expect(streamed.body.errors?.[0]?.code).toBe("Neo.ClientError.Schema.ConstraintValidationFailed");
    const zz = await query("MATCH (t:Tenant {tenant_id:'zz'}) RETURN count(t) AS n");
    expect(zz.body.data?.values).toEqual([[0]]);
  });

  it("reports a Cypher syntax error as HTTP 400", async () => {
    const { status, body } = await query("MATC (n) RETURN n");
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors).toHaveLength(1);
    expect(body.errors?.[0]?.code).toBe("Neo.ClientError.Statement.SyntaxError");
    expect(body.errors?.[0]?.message).toContain("line 1, column 1");
  });

  it("sees the same data over Bolt with neo4j-driver", async () => {
    if (!driver) throw new Error("no driver");
    await driver.verifyConnectivity();
    const { records } = await driver.executeQuery(
      "MATCH (t:Tenant) RETURN t.tenant_id AS id ORDER BY id",
      {},
      { database: server().database },
    );
    expect(records.map((r) => r.get("id"))).toEqual(["a", "b"]);

    const constraints = await driver.executeQuery(
      "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties",
      {},
      { database: server().database },
    );
    expect(constraints.records.map((r) => r.toObject())).toEqual([
      { name: "tenant_id_unique", type: "UNIQUENESS", labelsOrTypes: ["Tenant"], properties: ["tenant_id"] },
    ]);
  });
});
