import { createMiddleware } from "hono/factory";
import { AppError } from "../../errors";
import type { AppEnv } from "../context";

/** `FEATURE_COHERENCE=false` turns coherence routes into 503 `FEATURE_DISABLED`; stored data is untouched. */
export const requireCoherenceFeature = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.get("config").featureCoherence) {
    throw new AppError(503, "FEATURE_DISABLED", "the coherence feature is disabled", undefined, {
      "Retry-After": "60",
    });
  }
  await next();
});
