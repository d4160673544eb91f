// The real @upstash/redis client against our Upstash REST dev server (scripts/lib/upstash-dev.mjs) in front of a
// real Redis (scripts/lib/redis.mjs, Debian's redis-server: apt-get on first use, then ~0.1 s to start). Each run
// uses a fresh data directory and free loopback ports.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "@upstash/redis";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningRedis, startRedis } from "../../scripts/lib/redis.mjs";
import { type RunningUpstashDev, startUpstashDev } from "../../scripts/lib/upstash-dev.mjs";
import { freePort } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";

let dataDir: string;
let redisPort: number;
let server: RunningRedis;
let dev: RunningUpstashDev;
/** The client as the Worker uses it: auto-pipelining (POST /pipeline) and base64 responses. */
let redis: Redis;
/** One HTTP request per command (POST /), base64 responses. */
let direct: Redis;
/** One HTTP request per command, plain UTF-8 responses (`responseEncoding: false`). */
let plain: Redis;

const key = (() => {
  let n = 0;
  return (name: string) => `e2e:${name}:${++n}`;
})();

function client(opts: { enableAutoPipelining?: boolean; responseEncoding?: false; token?: string } = {}): Redis {
  const { token = dev.token, ...rest } = opts;
  return new Redis({ url: dev.url, token, enableTelemetry: false, ...rest });
}

/** A raw request to the dev server: status and parsed JSON body. */
async function call(
  path: string,
  body?: unknown,
  {
    headers = {},
    method = "POST",
    auth = true,
  }: { headers?: Record<string, string>; method?: string; auth?: boolean } = {},
): Promise<{ status: number; body: unknown; text: string }> {
  const res = await fetch(`${dev.url}${path}`, {
    method,
    headers: { ...(auth ? { authorization: `Bearer ${dev.token}` } : {}), ...headers },
    body: body === undefined || typeof body === "string" || body instanceof Blob ? body : JSON.stringify(body),
  });
  expect(res.headers.get("content-type")).toBe("application/json");
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), text };
}
const base64 = { headers: { "upstash-encoding": "base64" } };

beforeAllOrFail(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "upstash-dev-e2e-"));
  redisPort = await freePort();
  server = await startRedis({ dataDir, port: redisPort });
  dev = await startUpstashDev({ redisPort, port: 0, token: "e2e-token-0123456789" });
  redis = client();
  direct = client({ enableAutoPipelining: false });
  plain = client({ enableAutoPipelining: false, responseEncoding: false });
}, 300_000);

afterAll(async () => {
  await dev?.stop();
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe("@upstash/redis against the Upstash dev server", () => {
  it("round-trips strings with unicode and control characters, with and without base64 responses", async () => {
    const values = [
      "bar",
      "héllo wörld ✓ 日本語 👋🏽",
      "tab\tnewline\nnul\u0000bell\u0007",
      "",
      "OK",
      '{"half":',
      "007",
    ];
    for (const c of [redis, direct, plain]) {
      for (const value of values) {
        const k = key("str");
        expect(await c.set(k, value)).toBe("OK");
        expect(await c.get(k)).toBe(value);
      }
    }
  });

  it("returns binary values byte for byte as base64, and with U+FFFD without it", async () => {
    const k = key("bin");
    const bytes = new Uint8Array([0x00, 0xff, 0xfe, 0x80, 0x41]);
    expect((await call(`/set/${k}`, new Blob([bytes]))).body).toEqual({ result: "OK" });
    expect((await call("/", ["GET", k], base64)).body).toEqual({ result: Buffer.from(bytes).toString("base64") });
    expect((await call("/", ["GET", k])).body).toEqual({ result: "\u0000\ufffd\ufffd\ufffdA" });
    expect(await redis.get(k)).toBe("\u0000\ufffd\ufffd\ufffdA"); // what the client's TextDecoder makes of it
  });

  it("counts with incr, incrby and hincrby, and reads with hgetall, mget, expire and ttl", async () => {
    for (const c of [redis, direct, plain]) {
      const [k, h] = [key("n"), key("h")];
      expect(await c.incr(k)).toBe(1);
      expect(await c.incrby(k, 41)).toBe(42);
      expect(await c.hincrby(h, "ingest", 3)).toBe(3);
      expect(await c.hincrby(h, "ingest", 2)).toBe(5);
      expect(await c.hset(h, { signals: 7, note: "x" })).toBe(2);
      expect(await c.hgetall(h)).toEqual({ ingest: 5, signals: 7, note: "x" });
      expect(await c.mget(k, key("missing"), k)).toEqual([42, null, 42]);
      expect(await c.expire(k, 100)).toBe(1);
      expect(await c.ttl(k)).toBeGreaterThan(98);
      expect(await c.ttl(key("missing"))).toBe(-2);
    }
  });

  it("writes integers beyond 2^53 digit for digit, as Upstash does", async () => {
    const k = key("big");
    await call("/", ["SET", k, "9007199254740992"]);
    expect((await call("/", ["INCR", k])).text).toBe('{"result":9007199254740993}');
  });

  it("runs a pipeline, and keeps going past a failed command", async () => {
    const [k, c, h] = [key("p"), key("pc"), key("ph")];
    const results = await redis.pipeline().set(k, "v").incr(c).incrby(c, 9).get(k).hincrby(h, "f", 1).exec();
    expect(results).toEqual(["OK", 1, 10, "v", 1]);

    const after = key("after");
    await expect(redis.pipeline().set(k, "v").hget(k, "f").incr(after).exec()).rejects.toThrow(
      /Command 2 \[ hget \] failed: WRONGTYPE/,
    );
    expect(await redis.get(after)).toBe(1); // not atomic: the command after the failure ran
    const kept = await redis.pipeline().set(k, "w").hget(k, "f").incr(after).exec({ keepErrors: true });
    expect(kept[0]).toEqual({ result: "OK", error: undefined });
    expect(kept[1]?.error).toMatch(/^WRONGTYPE /);
    expect(kept[2]).toEqual({ result: 2, error: undefined });
    // A lone failing command: 200 with an error entry through /pipeline, 400 through POST /.
    await expect(redis.hget(k, "f")).rejects.toThrow(/WRONGTYPE/);
    await expect(direct.hget(k, "f")).rejects.toThrow(/WRONGTYPE/);
    expect(await call("/", ["HGET", k, "f"])).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^WRONGTYPE/) },
    });
  });

  it("runs multi() as one transaction; Redis discards it all on a queueing error", async () => {
    const [c, h] = [key("m"), key("mh")];
    expect(await redis.multi().incr(c).incrby(c, 4).hincrby(h, "n", 2).get(c).exec()).toEqual([1, 5, 2, 5]);

    // A command failing when it runs does not stop the others (Redis semantics, as Upstash documents).
    const [k, later] = [key("mk"), key("ml")];
    await expect(direct.multi().set(k, "v").incr(k).incr(later).exec()).rejects.toThrow(
      /Command 2 \[ incr \] failed: ERR value is not an integer/,
    );
    expect(await direct.get(later)).toBe(1);

    // A command Redis refuses to queue (wrong arity) discards the whole transaction: one error, HTTP 400.
    const untouched = key("mu");
    const discarded = await call("/multi-exec", [["INCR", untouched], ["GET"]]);
    expect(discarded).toMatchObject({
      status: 400,
      body: { error: "ERR wrong number of arguments for 'get' command" },
    });
    expect(await redis.get(untouched)).toBeNull();
  });

  it("rejects a wrong or missing token with 401 and Upstash's WRONGPASS error", async () => {
    const k = key("auth");
    await expect(client({ token: "wrong", enableAutoPipelining: false }).get(k)).rejects.toThrow(
      /WRONGPASS invalid or missing auth token/,
    );
    await expect(client({ token: "wrong" }).incr(k)).rejects.toThrow(/WRONGPASS/);
    expect(await call("/", ["GET", k], { auth: false })).toMatchObject({
      status: 401,
      body: { error: "WRONGPASS invalid or missing auth token" },
    });
    expect((await call(`/get/${k}?_token=${dev.token}`, undefined, { auth: false, method: "GET" })).body).toEqual({
      result: null,
    });
    expect(await redis.get(k)).toBeNull(); // the rejected INCR did not run
  });

  it("keeps concurrent requests apart: exact counts and unbroken transactions", async () => {
    const c = key("conc");
    const one = await Promise.all(Array.from({ length: 200 }, () => direct.incr(c))); // 200 HTTP requests
    expect(one.toSorted((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await Promise.all(Array.from({ length: 200 }, () => redis.incr(c))); // auto-pipelined
    expect(await plain.get(c)).toBe(400);

    const t = key("tx");
    const pairs = await Promise.all(Array.from({ length: 50 }, () => direct.multi().incr(t).incr(t).exec()));
    for (const [a, b] of pairs) expect(b).toBe(a + 1); // no other transaction's INCR in between
    expect(pairs.flat().toSorted((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it("(de)serializes JSON values like Upstash", async () => {
    const [k, h] = [key("json"), key("jh")];
    const usage = { tenantId: "acme", days: [{ date: "2026-11-27", requests: { ingest: 3 } }], cost: 0.25 };
    await redis.set(k, usage);
    expect(await redis.get(k)).toEqual(usage);
    expect(await plain.get(k)).toEqual(usage);
    await direct.hset(h, { meta: { a: 1 }, list: [1, "two"], flag: true });
    expect(await redis.hgetall(h)).toEqual({ meta: { a: 1 }, list: [1, "two"], flag: true });
    expect(await redis.pipeline().get(k).hget(h, "meta").exec()).toEqual([usage, { a: 1 }]);
  });

  it("encodes strings as base64 only when asked, never OK, numbers, nulls or errors", async () => {
    const k = key("enc");
    for (const [opts, bar, pong] of [
      [base64, "YmFy", "UE9ORw=="],
      [{}, "bar", "PONG"],
    ] as const) {
      expect((await call("/", ["SET", k, "bar"], opts)).body).toEqual({ result: "OK" });
      expect((await call("/", ["GET", k], opts)).body).toEqual({ result: bar });
      expect((await call("/", ["PING"], opts)).body).toEqual({ result: pong });
      expect((await call("/", ["MGET", k, key("none")], opts)).body).toEqual({ result: [bar, null] });
      expect(
        (
          await call(
            "/pipeline",
            [
              ["STRLEN", k],
              ["GET", key("none")],
              ["INCR", k],
            ],
            opts,
          )
        ).body,
      ).toEqual([{ result: 3 }, { result: null }, { error: "ERR value is not an integer or out of range" }]);
    }
  });

  it("speaks the path form and answers bad requests with JSON errors", async () => {
    const k = key("path");
    expect((await call(`/set/${k}?EX=100`, "a value/with {json}")).body).toEqual({ result: "OK" });
    expect((await call(`/get/${k}`, undefined, { method: "GET" })).body).toEqual({ result: "a value/with {json}" });
    expect((await call(`/ttl/${k}`, undefined, { method: "GET" })).body).toEqual({ result: 100 });
    expect((await call(`/get/${k}`, undefined, { method: "DELETE" })).status).toBe(405);
    expect(await call("/", "{not json")).toMatchObject({ status: 400, body: { error: expect.any(String) } });
    expect(await call("/", { cmd: "GET" })).toMatchObject({ status: 400, body: { error: expect.any(String) } });
    expect(await call("/pipeline", ["GET", k])).toMatchObject({ status: 400, body: { error: expect.any(String) } });
    expect(await call("/", ["SELECT", 1])).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/select/) },
    });
    const huge = ["SET", k, "x".repeat(1024 * 1024)];
    expect(await call("/", huge)).toEqual({
      status: 400,
      body: { error: "ERR max request size exceeded" },
      text: expect.any(String),
    });
    expect(await redis.get(k)).toBe("a value/with {json}");
  });

  it("keeps counters through a killed and a cleanly stopped Redis (AOF, fsync always)", async () => {
    const [c, h] = [key("durable"), key("durable-h")];
    await redis.pipeline().incrby(c, 12_345).hincrby(h, "ingest", 7).exec();
    expect(await direct.incr(c)).toBe(12_346);

    process.kill(server.pid, "SIGKILL"); // a crash right after the acknowledged write
    expect(await server.exited).toEqual({ code: null, signal: "SIGKILL" });
    server = await startRedis({ dataDir, port: redisPort });
    expect(await redis.get(c)).toBe(12_346); // the dev server reconnects by itself
    expect(await direct.hgetall(h)).toEqual({ ingest: 7 });

    expect(await direct.incr(c)).toBe(12_347);
    await server.stop();
    server = await startRedis({ dataDir, port: redisPort });
    expect(await plain.get(c)).toBe(12_347);
  });
});
