import { Hono } from "hono";
import { probeSinks, type SinkState } from "../../adapters/sinks";
import { type AuthzAction, authorize, denialMessage, recordDecision } from "../../auth/authz";
import type { Principal } from "../../auth/principal";
import type { Config } from "../../config";
import { describeSwitches, parseSwitchChange } from "../../domain/switches";
import { AppError } from "../../errors";
import { PERSISTED_OPERATIONS } from "../../graphql/persisted";
import { gatherMetrics } from "../../metrics/collect";
import { type Gauge, render } from "../../metrics/model";
import { deadLetterStore, opsSwitches, tenantDirectory } from "../../residency";
import { switchCache } from "../../switches";
import { logEvent } from "../../telemetry/log";
import type { AppEnv, RequestLog } from "../context";
import { requireAuth } from "../middleware/auth";

/**
 * `/readyz` needs no token, so anyone may call it often: it answers from the last probe of the sinks while that
 * is younger than this, and probing costs the databases at most one query each per 5 s per isolate.
 */
export const READY_CACHE_MS = 5000;

/** The last probe per settings object: settled plain data only (never an in-flight promise shared by requests). */
const readiness = new WeakMap<Config, { atMs: number; neo4j: SinkState; postgres: SinkState }>();

/**
 * The sink pipeline's state at scrape time (no tenant label): the outboxes' backlog over every tenant (as their
 * objects last reported it to the directory, at most ~2 s old) and the dead-letter store's depth. A store that
 * cannot be read leaves its gauges out rather than fail the scrape.
 */
async function sinkGauges(env: Env, config: Config): Promise<Gauge[]> {
  const now = Date.now();
  const [backlog, dead] = await Promise.all([
    env.TENANT_DIRECTORY
      ? tenantDirectory(env, config)
          .sinkBacklog()
          .catch(() => null)
      : null,
    env.DEAD_LETTERS
      ? (async () => {
          const store = deadLetterStore(env, config);
          const [count, redrive, parked] = await Promise.all([
            store.count(),
            store.redriveStatus(),
            store.parkedCount(),
          ]);
          return { count, pending: redrive.pending, parked: parked.count };
        })().catch(() => null)
      : null,
  ]);
  const gauges: Gauge[] = [];
  if (backlog) {
    gauges.push(
      {
        name: "sink_outbox_backlog_signals",
        help: "Signals accepted but not yet handed to the sink queue, over every tenant.",
        value: backlog.backlog,
      },
      {
        name: "sink_outbox_oldest_unsent_age_seconds",
        help: "Age of the oldest signal not yet handed to the sink queue, over every tenant (0 when none).",
        value: backlog.oldestUnsentMs === null ? 0 : Math.max(0, (now - backlog.oldestUnsentMs) / 1000),
      },
    );
  }
  if (dead) {
    gauges.push(
      { name: "sink_dead_letters", help: "Sink messages in the dead-letter store.", value: dead.count },
      {
        name: "sink_dead_letters_redrive_pending",
        help: "Dead letters the store will redrive by itself once the stores answer.",
        value: dead.pending,
      },
      {
        name: "sink_parked_messages",
        help: "Sink messages parked while the materializer switch is off.",
        value: dead.parked,
      },
    );
  }
  return gauges;
}

/** The persisted operations' names: each has a switch `op:<name>`. */
const OPERATIONS = Object.keys(PERSISTED_OPERATIONS);

/** Cross-tenant operations: operator tokens (tenant `*`) with the action's scope, as the policy decides. */
async function enforceOperator(principal: Principal, log: RequestLog, action: AuthzAction): Promise<void> {
  const decision = await authorize(action, principal, []);
  recordDecision(log, action, decision);
  if (!decision.allow) throw new AppError(403, "FORBIDDEN", denialMessage(action, decision));
}

/** Operations: readiness with each sink's state (docs/api.md §4.2) and the dead-letter queue (docs/api.md §7). */
export const opsRoutes = new Hono<AppEnv>()
  .get("/readyz", async (c) => {
    c.get("log").op = "readyz";
    const config = c.get("config");
    const now = Date.now();
    let result = readiness.get(config);
    if (!result || now - result.atMs >= READY_CACHE_MS) {
      result = { atMs: now, ...(await probeSinks(config)) };
      readiness.set(config, result);
    }
    const { neo4j, postgres } = result;
    const ready = neo4j !== "down" && postgres !== "down";
    return c.json({ status: ready ? "ok" : "degraded", sinks: { neo4j, postgres } }, ready ? 200 : 503);
  })
  .get("/metrics", requireAuth, async (c) => {
    c.get("log").op = "metrics";
    const decision = await authorize("metrics_read", c.get("principal"), []);
    recordDecision(c.get("log"), "metrics_read", decision);
    if (!decision.allow) throw new AppError(403, "FORBIDDEN", denialMessage("metrics_read", decision));
    const config = c.get("config");
    const [state, gauges] = await Promise.all([gatherMetrics(c.env.METRICS, config), sinkGauges(c.env, config)]);
    const text = render(state, gauges);
    return c.body(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  })
  .get("/v1/ops/dlq", requireAuth, async (c) => {
    c.get("log").op = "dlq_list";
    await enforceOperator(c.get("principal"), c.get("log"), "dlq_read");
    const store = deadLetterStore(c.env, c.get("config"));
    const [count, messages, parked, redrive] = await Promise.all([
      store.count(),
      store.list(100),
      store.parkedCount(),
      store.redriveStatus(),
    ]);
    return c.json({ count, messages, parked, redrive });
  })
  .post("/v1/ops/dlq/replay", requireAuth, async (c) => {
    c.get("log").op = "dlq_replay";
    await enforceOperator(c.get("principal"), c.get("log"), "dlq_replay");
    const store = deadLetterStore(c.env, c.get("config"));
    return c.json(await store.replay());
  })
  .get("/v1/ops/switches", requireAuth, async (c) => {
    c.get("log").op = "switches_read";
    await enforceOperator(c.get("principal"), c.get("log"), "switches_read");
    const config = c.get("config");
    const object = opsSwitches(c.env, config);
    const [stored, history, parked] = await Promise.all([
      object.values(),
      object.history(20),
      deadLetterStore(c.env, config).parkedCount(),
    ]);
    return c.json({ switches: describeSwitches(config, stored, OPERATIONS), parked, history });
  })
  .put("/v1/ops/switches/:name", requireAuth, async (c) => {
    const log = c.get("log");
    log.op = "switch_change";
    await enforceOperator(c.get("principal"), log, "switches_write");
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new AppError(400, "MALFORMED_JSON", 'the body must be JSON: {"value":"on","reason":"…"}');
    }
    const { value, reason } = (body ?? {}) as { value?: unknown; reason?: unknown };
    const change = parseSwitchChange(c.req.param("name"), value, OPERATIONS);
    if (!change.ok) {
      throw new AppError(400, "VALIDATION_FAILED", change.message, [{ path: "value", message: change.message }]);
    }
    if (reason !== undefined && typeof reason !== "string") {
      throw new AppError(400, "VALIDATION_FAILED", "reason must be a string", [
        { path: "reason", message: "a string" },
      ]);
    }
    const config = c.get("config");
    const object = opsSwitches(c.env, config);
    const audit = await object.change(
      change.name,
      change.value === "reset" ? null : change.value,
      log.subject_hash ?? null,
      reason?.slice(0, 500) ?? null,
    );
    const stored = await object.values();
    // This isolate at once; every other within the cache's 4 s.
    switchCache.set(stored);
    // The audit line: who (pseudonym), what, from what, why.
    logEvent({
      level: "warn",
      op: "switch_change",
      switch: audit.name,
      previous: audit.previous,
      value: audit.value,
      subject_hash: audit.actor,
      reason: audit.reason,
    });
    return c.json({ change: audit, switches: describeSwitches(config, stored, OPERATIONS) });
  });
