// A producer from nothing, as the README tells it: `npm start` (the Worker and its dev OpenID Provider), a client id
// and secret registered at the IdP, and the client's own OAuth client credentials — no token minted by hand. The
// README's examples run as a user runs them; a long-running producer refreshes its token before it expires and
// rides through `npm run idp -- rotate` mid-run without a refused request or a lost signal. What reached the
// service is read back through GraphQL with a token of the IdP; tokens and kids are read off the wire.
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createCoherenceClient, type PublishResult } from "@coherence/client";
import { decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { serviceForFile } from "../support/vitest-hooks";
import { newTenant } from "./helpers";

const root = join(import.meta.dirname, "..", "..");
const node = join(root, "node_modules", ".bin", "node");
const run = promisify(execFile);

const T = { example: newTenant("oauth-example"), long: newTenant("oauth-long") };
const SCOPE = "coherence:read coherence:write";
/** The shortest lifetime the IdP allows, so a run of a minute sees the client refresh its token. */
const TTL_S = 30;

// The machine clients an operator registers at the IdP (IDP_CLIENTS_FILE, the shape of idp/clients.json).
const clients = Object.fromEntries(
  Object.entries(T).map(([k, tenant]) => [k, { id: `producer-${tenant}`, secret: randomUUID(), tenant }]),
);
const clientsFile = join(mkdtempSync(join(tmpdir(), "producer-oauth-")), "clients.json");
writeFileSync(
  clientsFile,
  JSON.stringify({
    clients: Object.values(clients).map((c) => ({
      client_id: c.id,
      client_secret: c.secret,
      tenant: c.tenant,
      scope: SCOPE,
    })),
  }),
);

const svc = serviceForFile({
  idp: true,
  env: { IDP_CLIENTS_FILE: clientsFile, IDP_ACCESS_TOKEN_TTL_S: String(TTL_S) },
});

function issuer(): string {
  if (!svc.idp) throw new Error("the service was started without its IdP");
  return svc.idp.issuer;
}

function client(key: keyof typeof T, fetchImpl?: typeof fetch) {
  const c = clients[key]!;
  return createCoherenceClient({
    url: svc.baseUrl,
    oauth: { issuer: issuer(), clientId: c.id, clientSecret: c.secret },
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
}

describe("a producer with a client id and secret from the dev IdP", () => {
  it("runs the README's examples: signals flow and the watcher sees them, with no token minted by hand", async () => {
    const c = clients.example!;
    const env = {
      ...process.env,
      COHERENCE_TOKEN: "",
      OAUTH_ISSUER: issuer(),
      OAUTH_CLIENT_ID: c.id,
      OAUTH_CLIENT_SECRET: c.secret,
    };
    // The watcher first (as the README puts it in the background), then the producer.
    const watch = spawn(
      node,
      [join(root, "packages/client/examples/watch.ts"), "--tenant", c.tenant, "--url", svc.baseUrl],
      { env, stdio: ["ignore", "pipe", "pipe"] },
    );
    let watched = "";
    watch.stdout.on("data", (d: Buffer) => {
      watched += d.toString();
    });
    watch.stderr.on("data", (d: Buffer) => {
      watched += d.toString();
    });
    try {
      // The watcher is subscribed once it printed the (empty) score the subscription starts with.
      await until(
        () => watched.includes(" over 0 signals"),
        20_000,
        () => watched,
      );
      const { stdout } = await run(
        node,
        [
          join(root, "packages/client/examples/producer.ts"),
          "--tenant",
          c.tenant,
          "--count",
          "1200",
          "--url",
          svc.baseUrl,
        ],
        { env, timeout: 60_000 },
      );
      expect(stdout).toMatch(
        /^published 1200 signals \(0 duplicates, 0 refused\) in [\d.]+ s: \d+ requests, 0 retries$/m,
      );
      const view = await client("example").score(c.tenant);
      expect(view.signalCount).toBe(1200);
      expect(stdout).toContain(`${c.tenant}: score ${view.score} ${view.status} over 1200 signals`);
      await until(
        () => watched.includes(`over 1200 signals`),
        20_000,
        () => watched,
      );
      expect(watched).not.toMatch(/subscription ended|Error/);
    } finally {
      watch.kill("SIGINT");
    }
  }, 120_000);

  it("refreshes its token before expiry and rides through a key rotation mid-run: every signal counted once, no 401", async () => {
    const c = clients.long!;
    // What went over the wire, seen from outside the client: its token requests, the kid of each token it sent, and
    // every status the service answered.
    const tokenRequests: number[] = [];
    const kids: string[] = [];
    const statuses = new Map<number, number>();
    const wire: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const res = await fetch(input, init);
      if (url.origin === new URL(issuer()).origin) {
        if (url.pathname.endsWith("/token")) tokenRequests.push(Date.now());
      } else {
        const auth = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)).get(
          "authorization",
        );
        const kid = auth ? decodeProtectedHeader(auth.replace(/^Bearer /, "")).kid : undefined;
        if (kid && kids.at(-1) !== kid) kids.push(kid);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
      return res;
    };
    const producer = client("long", wire);
    const started = Date.now();
    const runForMs = (TTL_S + 8) * 1000;
    const pending: Promise<PublishResult>[] = [];
    let rotated: { kid: string } | null = null;
    let i = 0;
    while (Date.now() - started < runForMs) {
      await producer.room();
      pending.push(
        producer.publish({
          tenantId: c.tenant,
          signalId: `long-${i++}`,
          type: "latency",
          source: "steady",
          value: 0.8,
        }),
      );
      if (rotated === null && Date.now() - started > 8_000) rotated = await rotate();
      await new Promise((r) => setTimeout(r, 25));
    }
    const results = await Promise.all(pending);
    await producer.flush();
    expect(results.filter((r) => r.status !== "accepted")).toEqual([]);
    expect(rotated).not.toBeNull();
    // Refreshed before expiry: a second token was fetched, and the service never had to refuse an expired one.
    expect(tokenRequests.length).toBeGreaterThanOrEqual(2);
    expect(statuses.get(401) ?? 0).toBe(0);
    expect([...statuses.keys()].every((s) => s < 300)).toBe(true);
    // The first token was signed with the old key, the refreshed one with the key the rotation added.
    expect(kids.length).toBeGreaterThanOrEqual(2);
    expect(kids[0]).not.toBe(rotated?.kid);
    expect(kids.at(-1)).toBe(rotated?.kid);
    const view = await producer.score(c.tenant);
    expect(view.signalCount).toBe(i);
    await producer.close();
  }, 120_000);
});

/** `npm run idp -- rotate` beside the running IdP, as an operator would run it. */
async function rotate(): Promise<{ kid: string }> {
  if (!svc.idp) throw new Error("no IdP");
  const { stdout } = await run("npm", ["run", "--silent", "idp", "--", "rotate"], {
    cwd: root,
    env: { ...process.env, IDP: "on", IDP_PORT: new URL(svc.idp.issuer).port, IDP_DIR: svc.idp.dir },
  });
  return JSON.parse(stdout.trim()) as { kid: string };
}

async function until(done: () => boolean, timeoutMs: number, show: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out; output so far:\n${show()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
