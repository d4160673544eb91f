// The workbench's files (src/http/routes/workbench.ts) through the Worker's Hono app in Node: the bundled
// public/workbench/ files with their ETags, an asset server's trailing-slash redirects, and the app's JSON errors.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { app } from "../../src/http/app";
import { fakeNamespace, workerEnv } from "./worker-harness";

const env = workerEnv({
  ENVIRONMENT: "test",
  LOG_LEVEL: "error",
  METRICS: fakeNamespace(() => ({ observe: async () => {} })),
});
const request = (path: string, init: RequestInit = {}) => app.request(path, { redirect: "manual", ...init }, env);
const source = (name: string) =>
  readFileSync(resolve(import.meta.dirname, "..", "..", "public", "workbench", name), "utf8");

describe("GET /workbench/", () => {
  it("serves the page and its files as they are in public/workbench/, each with its type", async () => {
    for (const [path, name, type] of [
      ["/workbench/", "index.html", "text/html"],
      ["/workbench/app.js", "app.js", "text/javascript"],
      ["/workbench/style.css", "style.css", "text/css"],
    ] as const) {
      const res = await request(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(new RegExp(`^${type};`));
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(await res.text()).toBe(source(name));
    }
  });

  it("answers 304 to a request that already has the file's ETag", async () => {
    const first = await request("/workbench/app.js");
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const again = await request("/workbench/app.js", { headers: { "if-none-match": etag ?? "" } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    const stale = await request("/workbench/app.js", { headers: { "if-none-match": '"other"' } });
    expect(stale.status).toBe(200);
  });

  it("redirects /workbench and /workbench/index.html to /workbench/", async () => {
    for (const path of ["/workbench", "/workbench/index.html"]) {
      const res = await request(path);
      expect(res.status).toBe(307);
      expect(res.headers.get("location")).toBe("/workbench/");
    }
  });

  it("answers a missing file with the JSON 404 and other methods with the JSON 405", async () => {
    const missing = await request("/workbench/nope.js");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
    const post = await request("/workbench/", { method: "POST" });
    expect(post.status).toBe(405);
    expect(await post.json()).toMatchObject({ error: { code: "METHOD_NOT_ALLOWED" } });
  });
});
