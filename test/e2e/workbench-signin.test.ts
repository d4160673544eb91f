// The workbench's sign-in end to end in Chromium (issue 17): a person signs in at `npm start`'s dev OpenID Provider
// (code + PKCE through oauth4webapi), the tenant comes from the token, the access token is renewed silently before
// it expires (tokens live 30 s here), the live view survives the old token's expiry (the server closes that socket,
// the page reconnects with the new token and still shows new signals), and sign-out revokes the refresh token and
// makes the next sign-in ask for the password again. What the page did is read from the page and the network.
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, ensureChromium } from "../../scripts/lib/chromium.mjs";
import { serviceForFile } from "../support/vitest-hooks";
import { ingest, signal } from "./helpers";
import { decodeJwt } from "./tokens";

const TTL_S = 30;
const svc = serviceForFile({ idp: true, env: { IDP_ACCESS_TOKEN_TTL_S: String(TTL_S) } });
let browser: Browser | undefined;
const consoleErrors: string[] = [];

afterAll(async () => {
  await browser?.close();
});

function issuer(): string {
  if (!svc.idp) throw new Error("the service was started without its IdP");
  return svc.idp.issuer;
}

/** A producer token for acme by the dev IdP's client credentials (idp/clients.json). */
async function producerToken(): Promise<string> {
  const res = await fetch(`${issuer()}/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from("acme-producer:acme-producer-secret").toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials",
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** The workbench's "Sign in", the IdP's login and consent pages, and back. */
async function signInAs(page: Page, login: string, password: string): Promise<void> {
  await page.fill("#issuer", issuer());
  await page.click("#idp-sign-in");
  await page.fill("#login", login);
  await page.fill("#password", password);
  await page.click("#sign-in");
  await page.click("#allow");
  await page.waitForURL(`${svc.baseUrl}/workbench/`);
}

const rows = (page: Page) => page.locator("#signals tr").count();

describe("workbench sign-in (Chromium, dev IdP)", () => {
  it("signs in, renews silently before expiry, stays live past the first token's expiry, and signs out", async () => {
    browser = await chromium.launch({ executablePath: ensureChromium(), headless: true, args: CHROMIUM_ARGS });
    const page = await (await browser.newContext()).newPage();
    page.on("console", (m) => {
      // The dev IdP's own pages have no favicon (its 404 is the browser's, not the workbench's).
      if (m.type() === "error" && !m.location().url.endsWith("/favicon.ico")) {
        consoleErrors.push(`${m.text()} (${m.location().url})`);
      }
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    const grants: string[] = [];
    const revocations: number[] = [];
    page.on("response", (res) => {
      const req = res.request();
      const url = new URL(req.url());
      if (url.origin !== issuer() || req.method() !== "POST") return;
      if (url.pathname.endsWith("/token")) {
        grants.push(`${new URLSearchParams(req.postData() ?? "").get("grant_type")} ${res.status()}`);
      }
      if (url.pathname.endsWith("/revocation")) revocations.push(res.status());
    });

    await page.goto(`${svc.baseUrl}/workbench/`);
    await signInAs(page, "alice", "alice-dev");
    await expect.poll(() => page.textContent("#conn"), { timeout: 20_000 }).toMatch(/^Live: tenant acme/);
    expect(await page.isVisible("#who")).toBe(true);
    expect(await page.textContent("#who-text")).toContain("tenant acme");
    expect(await page.isVisible("#sign-in-form")).toBe(false);
    const first = await page.inputValue("#token");
    const firstClaims = decodeJwt(first).payload as { exp: number; tenant: string };
    expect(firstClaims.tenant).toBe("acme");
    expect(grants).toEqual(["authorization_code 200"]);

    const producer = await producerToken();
    expect((await ingest(svc.baseUrl, signal("acme", { source: "before-renewal" }), producer)).status).toBe(202);
    await expect.poll(() => rows(page), { timeout: 10_000 }).toBe(1);

    // Renewed before the first token expires, by the refresh grant, with no page visit.
    await expect
      .poll(() => page.getAttribute("#who", "data-renewals"), { timeout: (TTL_S + 5) * 1000, interval: 500 })
      .toBe("1");
    expect(Date.now() / 1000).toBeLessThan(firstClaims.exp);
    expect(grants).toEqual(["authorization_code 200", "refresh_token 200"]);
    const second = await page.inputValue("#token");
    expect(second).not.toBe(first);
    expect((decodeJwt(second).payload as { exp: number }).exp).toBeGreaterThan(firstClaims.exp);

    // Past the first token's expiry the server closed the socket it authenticated; the page went on with the new
    // token (a reconnect, not an error) and new signals still arrive.
    await new Promise((r) => setTimeout(r, Math.max(0, firstClaims.exp * 1000 - Date.now()) + 3_000));
    await expect.poll(() => page.textContent("#conn"), { timeout: 15_000 }).toMatch(/^Live: tenant acme · reconnected/);
    expect((await ingest(svc.baseUrl, signal("acme", { source: "after-expiry" }), await producerToken())).status).toBe(
      202,
    );
    await expect.poll(() => rows(page), { timeout: 10_000 }).toBe(2);

    // Sign-out: the refresh token is revoked at the provider, the live view closes, and signing in again asks for
    // the password even though the provider's session cookie is still there.
    await page.click("#sign-out");
    await expect.poll(() => page.textContent("#conn")).toBe("Signed out.");
    await expect.poll(() => revocations, { timeout: 10_000 }).toEqual([200]);
    expect(await page.inputValue("#token")).toBe("");
    expect(await page.isVisible("#who")).toBe(false);
    await page.click("#idp-sign-in");
    await page.waitForSelector("#login", { timeout: 15_000 });
    expect(consoleErrors).toEqual([]);
  }, 150_000);

  it("takes an operator from sign-in to the live overview of all tenants and on to one tenant's page", async () => {
    browser ??= await chromium.launch({ executablePath: ensureChromium(), headless: true, args: CHROMIUM_ARGS });
    const page = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    // acme has signals (sent with the producer client's token), so the overview lists it.
    const producer = await producerToken();
    expect((await ingest(svc.baseUrl, signal("acme", { source: "operator-flow", value: 0.2 }), producer)).status).toBe(
      202,
    );

    await page.goto(`${svc.baseUrl}/workbench/`);
    await signInAs(page, "olga", "olga-dev");
    // An operator's token names no tenant: the page asks for one and offers the overview.
    await expect
      .poll(() => page.textContent("#conn"), { timeout: 20_000 })
      .toBe("Signed in; enter a tenant and connect.");
    expect(await page.textContent("#who-text")).toContain("tenant *");
    await page.click("#overview-link");
    await page.waitForURL(`${svc.baseUrl}/workbench/overview.html`);
    await expect.poll(() => page.getAttribute("#conn", "data-state"), { timeout: 20_000 }).toBe("live");
    await expect.poll(() => page.locator('#rows tr[data-tenant="acme"]').count(), { timeout: 15_000 }).toBe(1);

    // Click-through: the workbench opens with acme filled in. An operator's token never reads one tenant's signals
    // (contract §1), so the page does not try it and says what watching acme takes.
    await page.locator('#rows tr[data-tenant="acme"] a').click();
    await page.waitForURL((url) => url.pathname === "/workbench/" && url.searchParams.get("tenant") === "acme");
    expect(await page.inputValue("#tenant")).toBe("acme");
    expect(await page.textContent("#conn")).toContain("To watch acme, sign in as one of its people");
    expect(await page.inputValue("#token")).toBe("");
    expect(errors).toEqual([]);
  }, 120_000);
});
