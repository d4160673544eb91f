import { type Context, Hono } from "hono";
import { AppError } from "../../errors";
import type { AppEnv } from "../context";
import { WORKBENCH_FILES } from "./workbench-files.generated";

/**
 * The workbench page's static files (public/workbench/), bundled into the Worker by scripts/workbench-bundle.mjs.
 * `/workbench` and `/workbench/index.html` redirect to `/workbench/`, as an asset server's trailing-slash handling
 * would; `If-None-Match` with the file's ETag answers 304. Other methods get the app's JSON 405.
 */
export const workbenchRoutes = new Hono<AppEnv>().get("/workbench", redirect).get("/workbench/*", serve);

function redirect(c: Context<AppEnv>): Response {
  c.get("log").op = "workbench";
  return c.redirect("/workbench/", 307);
}

function serve(c: Context<AppEnv>): Response {
  c.get("log").op = "workbench";
  const name = c.req.path.slice("/workbench/".length) || "index.html";
  if (name === "index.html" && c.req.path !== "/workbench/") return redirect(c);
  const file = Object.hasOwn(WORKBENCH_FILES, name) ? WORKBENCH_FILES[name] : undefined;
  if (!file) throw new AppError(404, "NOT_FOUND", `no workbench file ${name}`);
  const headers = { "content-type": file.type, etag: file.etag, "cache-control": "no-cache" };
  if (c.req.header("if-none-match") === file.etag) return new Response(null, { status: 304, headers });
  return new Response(file.body, { status: 200, headers });
}
