import { Hono } from "hono";
import type { AppEnv } from "../context";

/** Liveness: answers without touching any object or sink. */
export const healthRoutes = new Hono<AppEnv>().get("/healthz", (c) => {
  c.get("log").op = "healthz";
  return c.json({ status: "ok" });
});
