import { createMiddleware } from "hono/factory";
import { setPolicyMemo } from "../../auth/authz";
import { loadConfig } from "../../config";
import { currentSwitches } from "../../switches";
import type { AppEnv } from "../context";

/**
 * The first middleware: the Worker's settings, parsed from its bindings (memoised per bindings object, so this
 * is a lookup after the isolate's first request) and set as `config` for everything after it. A bad setting
 * throws ConfigError here, which the error handler answers 503 SERVICE_UNAVAILABLE. Then the runtime switches
 * in effect (src/switches.ts), from this isolate's copy (at most 5 s old), as `switches`.
 */
export const withConfig = createMiddleware<AppEnv>(async (c, next) => {
  const config = loadConfig(c.env);
  c.set("config", config);
  c.set("switches", await currentSwitches(c.env, config));
  setPolicyMemo(!config.layersOff.has("policy-cache"));
  await next();
});
