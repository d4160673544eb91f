import { type Context, Hono } from "hono";
import type { AppEnv } from "../context";

/**
 * The workbench page's static files (public/workbench/), served from the ASSETS binding. wrangler.toml routes
 * /workbench to the Worker first, so other methods reach the app and get its JSON 405.
 */
export const workbenchRoutes = new Hono<AppEnv>().get("/workbench", serve).get("/workbench/*", serve);

function serve(c: Context<AppEnv>): Promise<Response> {
  c.get("log").op = "workbench";
  return c.env.ASSETS.fetch(c.req.raw);
}
