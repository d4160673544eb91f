import type { AppError } from "../src/errors";

/**
 * The HTTP answer to a refused WebSocket upgrade: REST-shaped like every refusal (docs/api.md §4.5), with the
 * error's headers (`Retry-After`). The upgrade is the one call the object answers over HTTP rather than with an
 * outcome, because a `WebSocket` travels only in a `fetch` response; this is its one renderer.
 */
export function upgradeRefusal(err: AppError): Response {
  const body = { error: { code: err.code, message: err.message, details: err.details ?? [] } };
  return Response.json(body, { status: err.status, headers: err.headers });
}
