// "Runs in Node 20+": Node 20 takes no TypeScript source, so the package's JavaScript build (`npm run build -w
// @coherence/client`, dist/) is built here and driven by the machine's Node 20 (not the Node 22 the tests run on):
// a producer publishes five signals one by one against a local HTTP server speaking the ingest answer of
// docs/api.md §4.3, and they leave as one batch under one Idempotency-Key.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const pkg = join(import.meta.dirname, "..");
const root = join(pkg, "..", "..");

/** The machine's Node 20 (the guide's "Node on the machine is 20"); npm scripts put Node 22 first on PATH. */
const NODE20 = "/usr/bin/node";

const SCRIPT = `
import { createServer } from "node:http";
import { createCoherenceClient } from "${join(pkg, "dist", "index.js")}";
const requests = [];
const server = createServer((req, res) => {
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    const { signals } = JSON.parse(body);
    requests.push({ path: req.url, key: req.headers["idempotency-key"], n: signals.length });
    res.writeHead(202, { "content-type": "application/json" });
    res.end(JSON.stringify({ accepted: signals.length, duplicates: 0, provenanceId: "p-1",
      signals: signals.map((s) => ({ signalId: s.signalId, status: "accepted" })) }));
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const client = createCoherenceClient({ url: "http://127.0.0.1:" + server.address().port, token: "t" });
const results = await Promise.all(Array.from({ length: 5 }, (_, i) =>
  client.publish({ tenantId: "acme", signalId: "s" + i, type: "latency", source: "node20", value: 0.5 })));
await client.close();
server.close();
console.log(JSON.stringify({ node: process.version, statuses: results.map((r) => r.status), requests }));
`;

describe("the package's JavaScript build on Node 20", () => {
  it("builds, imports and publishes (batched, one Idempotency-Key) under Node 20", async () => {
    await run(join(root, "node_modules", ".bin", "tsc"), ["-p", join(pkg, "tsconfig.build.json")], { cwd: root });
    const { stdout } = await run(NODE20, ["--input-type=module", "-e", SCRIPT], { cwd: root, timeout: 30_000 });
    const out = JSON.parse(stdout) as {
      node: string;
      statuses: string[];
      requests: { path: string; key: string; n: number }[];
    };
    expect(out.node).toMatch(/^v20\./);
    expect(out.statuses).toEqual(Array(5).fill("accepted"));
    expect(out.requests).toHaveLength(1);
    expect(out.requests[0]).toMatchObject({ path: "/v1/coherence/signals", n: 5 });
    expect(out.requests[0]?.key).toMatch(/.{16,}/);
  }, 60_000);
});
