import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { app } from "../../src/http/app";
import { READY_CACHE_MS } from "../../src/http/routes/ops";

// /readyz needs no token: probing it must not cost the databases a query per call.

let server: Server;
let queries = 0;
let up = true;
let url = "";

beforeAll(async () => {
  server = createServer((req, res) => {
    queries++;
    req.resume();
    req.on("end", () => {
      res.writeHead(up ? 202 : 503, { "content-type": "application/json" });
      res.end(up ? JSON.stringify({ data: { fields: [], values: [] } }) : "{}");
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

describe("GET /readyz", () => {
  it("probes the sinks at most once per 5 s and answers from that result in between", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      // No METRICS binding in Node: the metrics layer is off.
      const env = { ENVIRONMENT: "test", DEV_LAYERS_OFF: "metrics", LOG_LEVEL: "warn", NEO4J_URL: url };
      const ask = async () => {
        const res = await app.request("/readyz", {}, env);
        return { status: res.status, body: (await res.json()) as { sinks: { neo4j: string } } };
      };
      expect(await ask()).toMatchObject({ status: 200, body: { sinks: { neo4j: "ok" } } });
      expect(queries).toBe(1);
      for (let i = 0; i < 20; i++) await ask();
      expect(queries).toBe(1);

      up = false;
      vi.advanceTimersByTime(READY_CACHE_MS - 1);
      expect((await ask()).status).toBe(200); // still the cached probe
      expect(queries).toBe(1);
      vi.advanceTimersByTime(1);
      expect(await ask()).toMatchObject({ status: 503, body: { sinks: { neo4j: "down" } } });
      expect(queries).toBe(2);
    } finally {
      vi.useRealTimers();
      up = true;
    }
  });
});
