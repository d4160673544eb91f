import { describe, expect, it } from "vitest";
import { checkTicket, mintTicket, parseTicketHeader, TICKET_TTL_MS, ticketHeader } from "../../src/auth/ticket";

const KEY = "unit-test-ticket-key";

describe("realtime tickets", () => {
  it("are accepted for their tenant until they expire", async () => {
    const now = Date.now();
    const t = await mintTicket(KEY, "acme", now);
    expect(t.expiresAtMs).toBe(now + TICKET_TTL_MS);
    expect(await checkTicket(KEY, t.ticket, "acme", now + TICKET_TTL_MS - 1)).toEqual({
      ok: true,
      nonce: t.nonce,
      expiresAtMs: t.expiresAtMs,
    });
    expect(await checkTicket(KEY, t.ticket, "acme", now + TICKET_TTL_MS)).toEqual({ ok: false, reason: "expired" });
  });

  it("tell a genuine ticket for another tenant (403) from a forged one (401)", async () => {
    const t = await mintTicket(KEY, "acme", Date.now());
    expect(await checkTicket(KEY, t.ticket, "globex", Date.now())).toEqual({ ok: false, reason: "other_tenant" });
    expect(await checkTicket("another-key", t.ticket, "acme", Date.now())).toEqual({ ok: false, reason: "mac" });
    // Moving the expiry, or naming another tenant in the ticket, breaks the MAC.
    const [v, tenant, exp, nonce, mac] = t.ticket.split(".");
    const later = [v, tenant, String(Number(exp) + 3_600_000), nonce, mac].join(".");
    expect(await checkTicket(KEY, later, "acme", Date.now())).toEqual({ ok: false, reason: "mac" });
    const globex = Buffer.from("globex").toString("base64url");
    expect(await checkTicket(KEY, [v, globex, exp, nonce, mac].join("."), "globex", Date.now())).toEqual({
      ok: false,
      reason: "mac",
    });
  });

  it("refuse malformed text without computing a MAC", async () => {
    for (const bad of [
      "",
      "rt1",
      "rt1.a.b.c.d",
      "rt2.YWNtZQ.1.x.y",
      `rt1.YWNtZQ.${"9".repeat(17)}.${"a".repeat(22)}.${"b".repeat(43)}`,
    ]) {
      expect(await checkTicket(KEY, bad, "acme", Date.now())).toEqual({ ok: false, reason: "malformed" });
    }
  });

  it("carry their nonce and expiry to the object in one header value", async () => {
    const t = await mintTicket(KEY, "acme", 1_000);
    expect(parseTicketHeader(ticketHeader(t.nonce, t.expiresAtMs))).toEqual({
      nonce: t.nonce,
      expiresAtMs: t.expiresAtMs,
    });
    expect(parseTicketHeader(null)).toBeNull();
    expect(parseTicketHeader("forged")).toBeNull();
  });
});
