import { createMiddleware } from "hono/factory";
import { bearerToken, TokenError, verifyToken } from "../../auth/jwt";
import { AppError } from "../../errors";
import type { AppEnv } from "../context";

/**
 * Requires a valid bearer JWT and stores its principal; anything else is 401 `UNAUTHENTICATED`.
 * The reason is logged as a code, never with the token.
 */
export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.header("authorization"));
  if (!token) throw unauthenticated("missing bearer token");
  try {
    const principal = await verifyToken(token, c.get("config"));
    c.set("principal", principal);
    if (principal.tenant !== "*") {
      c.get("log").tenant_id = principal.tenant;
      // From the verified token only: baggage the client sent was not read (telemetry/http-server.ts).
      c.get("trace")?.span.setBaggage("tenant_id", principal.tenant);
    }
    c.get("log").subject_hash = principal.subjectHash;
  } catch (err) {
    if (err instanceof TokenError) throw unauthenticated("invalid or expired token", err.message);
    throw err;
  }
  await next();
});

export function unauthenticated(message: string, reason?: string): AppError {
  return new AppError(401, "UNAUTHENTICATED", message, reason ? [{ reason }] : undefined, {
    "WWW-Authenticate": 'Bearer realm="coherence"',
  });
}
