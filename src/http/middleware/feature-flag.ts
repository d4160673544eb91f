import { createMiddleware } from "hono/factory";
import { AppError } from "../../errors";
import type { AppEnv } from "../context";

/**
 * The `coherence` switch off (default `FEATURE_COHERENCE`) turns coherence routes into 503 `FEATURE_DISABLED`;
 * stored data is untouched.
 */
export const requireCoherenceFeature = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.get("switches").coherence) {
    throw new AppError(503, "FEATURE_DISABLED", "the coherence feature is disabled", undefined, {
      "Retry-After": "60",
    });
  }
  await next();
});
