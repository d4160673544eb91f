import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { bearerToken, TokenError, verifyToken } from "../../auth/jwt";
import type { Principal } from "../../auth/principal";
import { AppError } from "../../errors";
import type { AppEnv } from "../context";

/**
 * Requires a valid bearer JWT and stores its principal; anything else is 401 `UNAUTHENTICATED`.
 * The reason is logged as a code, never with the token.
 */
export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  await authenticate(c);
  await next();
});

/**
 * Verifies the request's bearer JWT and records its principal (request state, log, trace baggage); 401
 * `UNAUTHENTICATED` with `missing` as the message when there is none. For routes that take other credentials too.
 */
export async function authenticate(c: Context<AppEnv>, missing = "missing bearer token"): Promise<Principal> {
  const token = bearerToken(c.req.header("authorization"));
  if (!token) throw unauthenticated(missing);
  try {
    const principal = await verifyToken(token, c.get("config"));
    c.set("principal", principal);
    if (principal.tenant !== "*") {
      c.get("log").tenant_id = principal.tenant;
      // From the verified token only: baggage the client sent was not read (telemetry/http-server.ts).
      c.get("trace")?.span.setBaggage("tenant_id", principal.tenant);
    }
    c.get("log").subject_hash = principal.subjectHash;
    return principal;
  } catch (err) {
    if (err instanceof TokenError) throw unauthenticated("invalid or expired token", err.message);
    throw err;
  }
}

export function unauthenticated(message: string, reason?: string): AppError {
  return new AppError(401, "UNAUTHENTICATED", message, reason ? [{ reason }] : undefined, {
    "WWW-Authenticate": 'Bearer realm="coherence"',
  });
}
