import { decodeJwt } from "jose";
import { type AuthzAction, authorize } from "../src/auth/authz";
import { bearerToken, CLOCK_TOLERANCE_S, TokenError, verifyToken } from "../src/auth/jwt";
import type { Config } from "../src/config";
import type { FlowState } from "../src/realtime/coalesce";
import {
  type Action,
  type AuthResult,
  type ConnectionState,
  onAuthenticated,
  type Phase,
} from "../src/realtime/protocol";
import { logEvent } from "../src/telemetry/log";

/** A connection that has not completed `connection_init` by then is closed with 4408 (contract: within 11 s). */
export const INIT_TIMEOUT_MS = 10_000;

/** Subscription kinds in a {@link SubRecord}. */
export const EVENTS = 0;
export const SCORE = 1;
export const BREAKDOWN = 2;

/** One subscription in a socket's attachment: kind, operation name, last seq (events) or score version sent. */
export interface SubRecord {
  k: typeof EVENTS | typeof SCORE | typeof BREAKDOWN;
  o: string;
  q: number;
}

/** Per-socket state, kept in the hibernation attachment (a few hundred bytes at most: ids are capped). */
export interface SocketRecord {
  /**
   * The tenant. The object knows its own (TenantContext); still written because a version rolled back to reads
   * it from sockets that hibernated under this one.
   */
  t: string;
  /** When the socket was accepted, epoch ms. */
  c: number;
  p: Phase;
  s: Record<string, SubRecord>;
  f: FlowState;
  /** Scopes of the token that authenticated the socket (the policy judges every subscribe with them). */
  a?: string[];
  /** When that token stops being valid (its `exp` plus the verifier's leeway), epoch ms: the socket closes then. */
  x?: number;
}

/** What every socket's state has, whatever its subscriptions (tenant sockets, the operators' overview). */
export interface SocketBase {
  /** When the socket was accepted, epoch ms. */
  c: number;
  p: Phase;
  /** Active subscriptions by client id. */
  s: Record<string, unknown>;
  /** Scopes of the token that authenticated the socket. */
  a?: string[];
  /** When the authenticating token stops being valid, epoch ms. */
  x?: number;
}

/** When a socket must be closed: its `connection_init` deadline, or once ready, its token's expiry. */
export function deadlineOf(rec: SocketBase): number | null {
  if (rec.p !== "ready") return rec.c + INIT_TIMEOUT_MS;
  return rec.x ?? null;
}

/**
 * The object's sockets and their state. A socket's state lives in its hibernation attachment, so it survives
 * hibernation and eviction, and in memory once read; every change is written through. Also knows when the next
 * socket must be closed, recomputed only after a change that can move it (not on every call into the object).
 */
export class SocketTable<R extends SocketBase = SocketRecord> {
  private readonly cache = new Map<WebSocket, R>();
  /** Earliest socket deadline; `undefined` when it must be recomputed. */
  private deadline: number | null | undefined;

  constructor(private readonly state: DurableObjectState) {}

  /** Every socket the runtime holds for the object (hibernated ones included). */
  all(): WebSocket[] {
    return this.state.getWebSockets();
  }

  /** Accepts `ws` on the hibernation API with its first state. */
  accept(ws: WebSocket, rec: R): void {
    this.state.acceptWebSocket(ws);
    this.save(ws, rec);
    this.deadline = undefined;
  }
  /**
   * A hub's `authenticate` step: saves the record first (verifying awaits), verifies, then records the token's
   * scopes and expiry and the protocol's next phase. The next actions, or null when the socket closed meanwhile.
   */
  async authenticated(
    ws: WebSocket,
    rec: R,
    verify: () => Promise<InitAuth>,
  ): Promise<{ rec: R; actions: Action[] } | null> {
    this.save(ws, rec);
    const { result, scopes, expiresAtMs } = await verify();
    const current = this.live(ws);
    if (!current) return null;
    if (result === "ok") {
      current.a = scopes;
      current.x = expiresAtMs;
    }
    const step = onAuthenticated(connectionState(current), result);
    current.p = step.state.phase;
    this.save(ws, current);
    this.deadlineChanged();
    return { rec: current, actions: step.actions };
  }

  /** A socket's state, read from its attachment on first use. */
  get(ws: WebSocket): R | null {
    const cached = this.cache.get(ws);
    if (cached) return cached;
    const rec = ws.deserializeAttachment() as R | null;
    if (rec) this.cache.set(ws, rec);
    return rec;
  }

  /** The state of a socket still open as far as the object knows (`undefined` once closed or forgotten). */
  live(ws: WebSocket): R | undefined {
    return this.cache.get(ws);
  }

  save(ws: WebSocket, rec: R): void {
    this.cache.set(ws, rec);
    ws.serializeAttachment(rec);
  }

  /** A socket's phase or token changed: its deadline may have moved. */
  deadlineChanged(): void {
    this.deadline = undefined;
  }

  /** The peer closed or the socket failed: forget it. */
  forget(ws: WebSocket): void {
    this.cache.delete(ws);
    this.deadline = undefined;
  }

  close(ws: WebSocket, code: number, reason: string): void {
    this.forget(ws);
    try {
      ws.close(code, reason);
    } catch {
      // Already closing.
    }
  }

  /** Earliest instant some socket must be closed (init timeout or token expiry). */
  nextDeadline(): number | null {
    if (this.deadline !== undefined) return this.deadline;
    let earliest: number | null = null;
    for (const ws of this.state.getWebSockets()) {
      const rec = this.get(ws);
      const due = rec ? deadlineOf(rec) : null;
      if (due !== null && (earliest === null || due < earliest)) earliest = due;
    }
    this.deadline = earliest;
    return earliest;
  }
}

/**
 * Adds a subscription under a client-chosen id as an own property, so ids such as `__proto__` are stored like
 * any other instead of hitting `Object.prototype`'s accessor.
 */
export function setSubscription<S>(rec: { s: Record<string, S> }, id: string, sub: S): void {
  Object.defineProperty(rec.s, id, { value: sub, enumerable: true, writable: true, configurable: true });
}

/** The protocol machine's view of a socket. */
export function connectionState(rec: SocketBase): ConnectionState {
  return { phase: rec.p, ids: Object.keys(rec.s) };
}

/** Sends a frame, ignoring a peer that is gone (its close event cleans up); `meter` counts frames sent (FinOps). */
export function safeSend(
  ws: WebSocket,
  frame: string,
  meter?: { add(unit: "ws_messages_out", n: number): void },
): void {
  try {
    ws.send(frame);
    meter?.add("ws_messages_out", 1);
  } catch {
    // The peer is gone; its close event will clean up.
  }
}

/** What a `connection_init` token came to: the protocol's result, the token's scopes, when the socket must close. */
export interface InitAuth {
  result: AuthResult;
  scopes: string[];
  expiresAtMs: number;
}

const UNAUTHENTICATED: InitAuth = { result: "unauthenticated", scopes: [], expiresAtMs: 0 };

/**
 * Verifies a `connection_init` token (its payload's `authorization`) and asks the policy for `action` on the tenant
 * (`null`: the operators' overview, no tenant); logs the decision. The socket closes when the token expires.
 */
export async function authenticateInit(
  payload: Record<string, unknown>,
  config: Config,
  action: AuthzAction,
  tenantId: string | null,
): Promise<InitAuth> {
  const header = payload.authorization ?? payload.Authorization;
  const token = typeof header === "string" ? bearerToken(header) : null;
  if (!token) return UNAUTHENTICATED;
  try {
    const principal = await verifyToken(token, config);
    const decision = await authorize(action, principal, tenantId === null ? undefined : [tenantId]);
    logEvent({
      level: decision.allow ? "info" : "warn",
      op: "connection_init",
      tenant_id: tenantId,
      authz: [`${action}:${decision.reason}`],
    });
    // Verified above (exp is required), so reading exp from the payload is safe.
    const exp = decodeJwt(token).exp ?? 0;
    return {
      result: decision.allow ? "ok" : "forbidden",
      scopes: [...principal.scopes],
      expiresAtMs: (exp + CLOCK_TOLERANCE_S) * 1000,
    };
  } catch (err) {
    if (err instanceof TokenError) return UNAUTHENTICATED;
    throw err;
  }
}

/**
 * Spends a realtime ticket in an object's `used_tickets` table (good for one upgrade): `false` when it was spent
 * before. Expired entries go first, so the table holds at most a ticket lifetime of nonces.
 */
export function spendTicket(sql: SqlStorage, nonce: string, expiresMs: number, nowMs: number): boolean {
  sql.exec(`DELETE FROM used_tickets WHERE expires_ms <= ?`, nowMs);
  const inserted = sql
    .exec(
      `INSERT INTO used_tickets (nonce, expires_ms) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING RETURNING nonce`,
      nonce,
      expiresMs,
    )
    .toArray();
  return inserted.length === 1;
}
