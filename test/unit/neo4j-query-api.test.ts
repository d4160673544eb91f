// The Neo4j adapter's side of the Query API protocol against a loopback server that answers as Neo4j does
// (`{"data":{"values":…}}` or `{"errors":[…]}`). The statements themselves run against a real Neo4j in
// test/e2e/sinks.test.ts.
import { afterEach, describe, expect, it } from "vitest";
import { Neo4jQueryApi, signalKey, WRITE_SIGNALS } from "../../src/adapters/neo4j-query-api";
import { SinkError } from "../../src/ports";
import type { SinkSignal } from "../../src/queues/messages";
import { createTracer } from "../../src/telemetry/tracer";
import { loopbackServer, type Received } from "./worker-harness";

type Answer = { status: number; body: unknown };
let server: Awaited<ReturnType<typeof loopbackServer>> | null = null;

afterEach(async () => {
  await server?.close();
  server = null;
});

/** An adapter against a server that gives `answers` in turn (the last one again once they run out). */
async function adapter(...answers: Answer[]) {
  let i = 0;
  server = await loopbackServer(() => answers[Math.min(i++, answers.length - 1)] as Answer);
  const api = new Neo4jQueryApi({ url: `${server.url}/`, user: "neo4j", password: "s3cret", database: "graph db" });
  return { api, received: server.received };
}

const ok = (values: unknown[][] = []): Answer => ({ status: 202, body: { data: { fields: ["n"], values } } });
const body = (r: Received) => JSON.parse(r.body) as { statement: string; parameters: Record<string, unknown> };

const signal = (over: Partial<SinkSignal> = {}): SinkSignal => ({
  seq: 1,
  signalId: "s-1",
  type: "latency",
  source: "probe",
  value: 0.5,
  weight: 1,
  tsMs: 1_700_000_000_000,
  acceptedMs: 1_700_000_000_500,
  provenanceId: "p-1",
  tags: { purpose: "benchmarking", retention: "standard-365d", license: "Restricted-TOS", residency: "US" },
  ...over,
});

describe("Neo4jQueryApi", () => {
  it("posts one statement to the database's Query API endpoint with basic auth", async () => {
    const { api, received } = await adapter(ok());
    await api.ping();
    expect(received).toHaveLength(1);
    const [r] = received as [Received];
    expect(r.method).toBe("POST");
    // The trailing slash of the URL is dropped and the database name is percent-encoded.
    expect(r.url).toBe("/db/graph%20db/query/v2");
    expect(r.headers.authorization).toBe(`Basic ${Buffer.from("neo4j:s3cret").toString("base64")}`);
    expect(r.headers["content-type"]).toBe("application/json");
    expect(body(r)).toEqual({ statement: "RETURN 1 AS ok", parameters: {} });
  });

  it("writes a tenant's signals in one statement, each provenance's tags once", async () => {
    const { api, received } = await adapter(ok());
    const a = signal();
    const b = signal({ signalId: "s-2", seq: 2 });
    const c = signal({ signalId: "s-3", provenanceId: "p-2", tags: { purpose: "audit" } });
    await api.writeSignals("acme", [a, b, c]);
    const { statement, parameters } = body(received[0] as Received);
    expect(statement).toBe(WRITE_SIGNALS);
    expect(parameters.tenantId).toBe("acme");
    expect(parameters.provenance).toEqual({ "p-1": a.tags, "p-2": { purpose: "audit" } });
    const rows = parameters.rows as Array<Record<string, unknown>>;
    expect(rows.map((r) => r.key)).toEqual([signalKey("acme", a), signalKey("acme", b), signalKey("acme", c)]);
    expect(rows[0]).not.toHaveProperty("tags");
  });

  it("writes a score with its version as parameters", async () => {
    const { api, received } = await adapter(ok());
    const score = { tenantId: "acme", score: 0.8, status: "HEALTHY", signalCount: 3, updatedAtMs: 5, version: 7 };
    await api.writeScore(score);
    expect(body(received[0] as Received).parameters).toEqual(score);
  });

  it("deletes old signals in batches until a batch comes back short, and sums them", async () => {
    const { api, received } = await adapter(ok([[10_000]]), ok([[10_000]]), ok([[42]]));
    await expect(api.deleteSignalsBefore(1_000)).resolves.toBe(20_042);
    expect(received).toHaveLength(3);
    expect(body(received[2] as Received).parameters).toEqual({ cutoffMs: 1_000 });
  });

  it("fails retryably on a transient error and permanently on a statement error", async () => {
    const { api } = await adapter(
      {
        status: 202,
        body: { errors: [{ code: "Neo.TransientError.General.MemoryPoolOutOfMemoryError", message: "x" }] },
      },
      { status: 400, body: { errors: [{ code: "Neo.ClientError.Statement.SyntaxError", message: "bad" }] } },
    );
    const transient = await api.ping().catch((e: unknown) => e);
    expect(transient).toBeInstanceOf(SinkError);
    expect(transient).toMatchObject({ sink: "neo4j", retryable: true });
    const permanent = await api.ping().catch((e: unknown) => e);
    expect(permanent).toMatchObject({ retryable: false });
    expect((permanent as Error).message).toBe("Neo.ClientError.Statement.SyntaxError: bad");
  });

  it("reports an HTTP failure without a JSON body by its status, retryably", async () => {
    const { api } = await adapter({ status: 401, body: "not json at all" });
    const err = await api.ping().catch((e: unknown) => e);
    expect(err).toMatchObject({ retryable: true });
    expect((err as Error).message).toMatch(/^HTTP 401: /);
  });

  it("fails retryably, without the credentials in the message, when Neo4j cannot be reached", async () => {
    const { api } = await adapter(ok());
    await server?.close();
    server = null;
    const err = await api.ping().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkError);
    expect(err).toMatchObject({ retryable: true });
    expect((err as Error).message).toMatch(/^unreachable: /);
    expect((err as Error).message).not.toContain("s3cret");
  });

  it("sends the client span's traceparent when the call is traced", async () => {
    const { api, received } = await adapter(ok());
    const tracer = createTracer({
      endpoint: "http://127.0.0.1:9/v1/traces",
      headers: {},
      serviceName: "test",
    });
    const span = tracer.startSpan("request", { kind: "server" });
    await api.writeScore(
      { tenantId: "acme", score: 1, status: "HEALTHY", signalCount: 1, updatedAtMs: 1, version: 1 },
      { tracer, span },
    );
    const traceparent = String((received[0] as Received).headers.traceparent);
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // The header names the adapter's client span, a child of the request's span, not the request's span itself.
    expect(traceparent.split("-")[1]).toBe(span.traceId);
    expect(traceparent.split("-")[2]).not.toBe(span.spanId);
  });
});
