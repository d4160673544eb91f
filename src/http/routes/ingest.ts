import { Hono } from "hono";
import { authorize, denialMessage, recordDecision } from "../../auth/authz";
import { sha256Hex } from "../../domain/dedupe-key";
import { bodyKindOf, decodeIngestBody } from "../../domain/ingest-body";
import { validateSignals } from "../../domain/signal";
import { AppError } from "../../errors";
import { decodeUtf8, readBodyLimited } from "../body";
import { type AppEnv, tenantClient } from "../context";
import { requireAuth } from "../middleware/auth";
import { requireCoherenceFeature } from "../middleware/feature-flag";

const MAX_IDEMPOTENCY_KEY = 255;

/** `POST /v1/coherence/signals` (docs/api.md §4.3). Checks run in the contract's order of precedence. */
export const ingestRoutes = new Hono<AppEnv>().post(
  "/v1/coherence/signals",
  requireCoherenceFeature,
  async (c, next) => {
    c.get("log").op = "ingest";
    await next();
  },
  requireAuth,
  async (c) => {
    const principal = c.get("principal");
    const scopeDecision = await authorize("ingest", principal);
    if (!scopeDecision.scopeOk) {
      recordDecision(c.get("log"), "ingest", scopeDecision);
      throw new AppError(403, "FORBIDDEN", denialMessage("ingest", scopeDecision));
    }
    const kind = bodyKindOf(c.req.header("content-type"));
    if (!kind) {
      throw new AppError(415, "UNSUPPORTED_MEDIA_TYPE", "use application/json or application/x-ndjson");
    }
    const receivedAtMs = Date.now();
    const bytes = await readBodyLimited(c.req.raw);
    const decoded = decodeIngestBody(decodeUtf8(bytes), kind);
    if (!decoded.ok) {
      throw new AppError(400, decoded.code, decoded.message, decoded.details);
    }
    const idempotencyKey = c.req.header("idempotency-key");
    if (idempotencyKey !== undefined && (idempotencyKey.length < 1 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY)) {
      throw new AppError(400, "VALIDATION_FAILED", "Idempotency-Key must be 1..255 characters", [
        { path: "Idempotency-Key", message: "must be 1..255 characters" },
      ]);
    }
    const validated = await validateSignals(decoded.items, receivedAtMs);
    if (!validated.ok) {
      throw new AppError(
        400,
        "VALIDATION_FAILED",
        "one or more signals are invalid; nothing was stored",
        validated.details,
      );
    }
    const tenants = [...new Set(validated.signals.map((s) => s.tenantId))];
    const decision = await authorize("ingest", principal, tenants);
    recordDecision(c.get("log"), "ingest", decision);
    if (!decision.allow) {
      throw new AppError(403, "FORBIDDEN", "signals may only be sent for the token's own tenant");
    }
    const tenantId = principal.tenant;
    const bodyHash = await sha256Hex(bytes);
    const { response, replayed } = await tenantClient(c, tenantId).ingest({
      signals: validated.signals,
      receivedAtMs,
      requestHash: bodyHash,
      idempotency: idempotencyKey === undefined ? null : { key: idempotencyKey, bodyHash },
      op: "ingest",
    });
    c.get("log").provenance_id = response.provenanceId;
    c.get("log").request_sha256 = bodyHash;
    if (replayed) c.header("Idempotency-Replayed", "true");
    return c.json(response, 202);
  },
);
