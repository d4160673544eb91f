import { base64url, hmacSha256Base64url } from "./hmac";

/**
 * Realtime tickets (docs/api.md §4.5): a browser cannot put an `Authorization` header on a WebSocket upgrade, so
 * it trades its token for a ticket — `POST /v1/tenants/{t}/realtime-tickets` — and puts that in the upgrade's URL
 * (`?ticket=`). A ticket names one tenant, expires 60 s after it was made and is good for one upgrade: the Worker
 * checks its MAC, expiry and tenant before the tenant's object sees the upgrade; the object refuses a ticket it has
 * already seen (single use). Format: `rt1.<tenant, base64url>.<expiresAtMs>.<nonce>.<mac>`, the MAC being
 * HMAC-SHA256 with `REALTIME_TICKET_KEY` over the version, tenant, expiry and nonce.
 */

export const TICKET_TTL_MS = 60_000;

/**
 * The header with which the Worker tells the tenant's object which ticket an upgrade used (`<nonce>.<expiresAtMs>`),
 * so the object can refuse a second upgrade with it. Whatever a client sends under this name is dropped.
 */
export const TICKET_HEADER = "x-coherence-ticket";

/** The value of {@link TICKET_HEADER} for a checked ticket. */
export function ticketHeader(nonce: string, expiresAtMs: number): string {
  return `${nonce}.${expiresAtMs}`;
}

/** The ticket named by {@link TICKET_HEADER}, or `null` (no header, or not one the Worker wrote). */
export function parseTicketHeader(value: string | null): { nonce: string; expiresAtMs: number } | null {
  const m = value === null ? null : /^([A-Za-z0-9_-]{22})\.(\d{1,16})$/.exec(value);
  return m ? { nonce: m[1] as string, expiresAtMs: Number(m[2]) } : null;
}
const VERSION = "rt1";

export interface Ticket {
  ticket: string;
  expiresAtMs: number;
  nonce: string;
}

export type TicketCheck =
  | { ok: true; nonce: string; expiresAtMs: number }
  /** `other_tenant`: a genuine ticket, for another tenant's path (403, not 401). */
  | { ok: false; reason: "malformed" | "mac" | "expired" | "other_tenant" };

/** A new ticket for `tenantId`, valid {@link TICKET_TTL_MS} from `nowMs`. */
export async function mintTicket(key: string, tenantId: string, nowMs: number): Promise<Ticket> {
  const expiresAtMs = nowMs + TICKET_TTL_MS;
  const nonce = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const mac = await hmacSha256Base64url(key, `${VERSION}|${tenantId}|${expiresAtMs}|${nonce}`);
  const tenant = base64url(new TextEncoder().encode(tenantId));
  return { ticket: `${VERSION}.${tenant}.${expiresAtMs}.${nonce}.${mac}`, expiresAtMs, nonce };
}

/**
 * Whether `ticket` was made by this service for `tenantId` and has not expired at `nowMs` (single use is the
 * object's to enforce). Cheap to refuse: a malformed ticket costs no MAC.
 */
export async function checkTicket(key: string, ticket: string, tenantId: string, nowMs: number): Promise<TicketCheck> {
  const parts = ticket.split(".");
  if (parts.length !== 5 || parts[0] !== VERSION) return { ok: false, reason: "malformed" };
  const [, tenant64, exp, nonce, mac] = parts as [string, string, string, string, string];
  if (
    !/^[A-Za-z0-9_-]{1,200}$/.test(tenant64) ||
    !/^\d{1,16}$/.test(exp) ||
    !/^[A-Za-z0-9_-]{22}$/.test(nonce) ||
    !/^[A-Za-z0-9_-]{43}$/.test(mac)
  ) {
    return { ok: false, reason: "malformed" };
  }
  let named: string;
  try {
    named = new TextDecoder("utf-8", { fatal: true }).decode(fromBase64url(tenant64));
  } catch {
    return { ok: false, reason: "malformed" };
  }
  const expected = await hmacSha256Base64url(key, `${VERSION}|${named}|${exp}|${nonce}`);
  if (!timingSafeEqual(expected, mac)) return { ok: false, reason: "mac" };
  if (named !== tenantId) return { ok: false, reason: "other_tenant" };
  const expiresAtMs = Number(exp);
  if (nowMs >= expiresAtMs) return { ok: false, reason: "expired" };
  return { ok: true, nonce, expiresAtMs };
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function fromBase64url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}
