// The provenance ledger end to end (docs/api.md §4.7, issue 14): `npm start` with a real Postgres (Neon driver over
// our WebSocket proxy); entries read back over the API, the chain audited by `npm run provenance:verify` as an
// operator runs it, tampered with in Postgres as someone with more rights than the Worker would, and found; the
// retention job's purge through the cron. Rows are checked with psql, never with the code under test.
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningPostgres, type RunningWsproxy, startPostgres, startWsproxy } from "../../scripts/lib/postgres.mjs";
import { migratePostgres, setRetentionPolicy } from "../../scripts/migrate.mjs";
import { type LedgerEntry, nextLedgerEntry } from "../../src/domain/ledger";
import { freePort, mintToken, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";
import { bearer, expectRestError, type IngestOk, ingest, newTenant, send, signal } from "./helpers";

const root = resolve(import.meta.dirname, "..", "..");
const run = promisify(execFile);

let pg: RunningPostgres;
let proxy: RunningWsproxy;
let svc: RunningService;

async function psql(sql: string, url = pg.url): Promise<string> {
  const { stdout } = await run("psql", [url, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql]);
  return stdout.trim();
}

const WORKER_PASSWORD = "worker-ledger";
/** DATABASE_URL of the Worker's least-privileged login user (coherence_writer only). */
function workerUrl(): string {
  const url = new URL(pg.url);
  url.username = "coherence_ledger_worker";
  url.password = WORKER_PASSWORD;
  return url.toString();
}

interface Verified {
  code: number;
  out: string;
}

/** `npm run provenance:verify -- …` as an operator runs it: Postgres as its owner, the object over the API. */
async function verify(tenant: string, extra: string[] = [], token?: string): Promise<Verified> {
  const env = {
    ...process.env,
    DATABASE_URL: pg.url,
    COHERENCE_URL: svc.baseUrl,
    COHERENCE_TOKEN: token ?? (await mintToken(tenant, "coherence:read")),
  };
  try {
    const { stdout } = await run("npm", ["run", "--silent", "provenance:verify", "--", "--tenant", tenant, ...extra], {
      cwd: root,
      env,
    });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

/** Writes ledger entries into Postgres as the ledger's owner would have (old entries a test needs). */
async function insertLedger(chain: LedgerEntry[]): Promise<void> {
  const rows = chain.map((e) => ({
    tenant_id: e.tenantId,
    seq: e.seq,
    provenance_id: e.provenanceId,
    request_sha256: e.requestSha256,
    signal_count: e.signalCount,
    policy_tags: e.policyTags,
    received_at_ms: e.receivedAtMs,
    prev_hash: e.prevHash,
    hash: e.hash,
  }));
  await psql(
    `INSERT INTO provenance_ledger SELECT * FROM jsonb_to_recordset('${JSON.stringify(rows)}'::jsonb) AS e(
       tenant_id text, seq bigint, provenance_id text, request_sha256 text, signal_count integer, policy_tags jsonb,
       received_at_ms bigint, prev_hash text, hash text)`,
  );
}

async function pgCount(tenant: string): Promise<number> {
  return Number(await psql(`SELECT count(*) FROM provenance_ledger WHERE tenant_id = '${tenant}'`));
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAllOrFail(async () => {
  pg = await startPostgres({ dataDir: join(root, ".cache", "pg-provenance"), port: await freePort() });
  proxy = await startWsproxy({ pgPort: pg.port, port: await freePort() });
  await psql("DROP TABLE IF EXISTS provenance_ledger, provenance_ledger_anchor");
  migratePostgres(pg.url);
  await psql("DROP ROLE IF EXISTS coherence_ledger_worker");
  await psql(`CREATE ROLE coherence_ledger_worker LOGIN PASSWORD '${WORKER_PASSWORD}' IN ROLE coherence_writer`);
  svc = await startService({ env: { DATABASE_URL: workerUrl(), NEON_WSPROXY: proxy.url, RPS_MAX: "100000" } });
}, 300_000);

afterAll(async () => {
  await svc?.stop();
  await proxy?.stop();
  await pg?.stop();
});

describe("provenance ledger (issue 14)", () => {
  const tenant = newTenant("prov");
  const accepted: IngestOk[] = [];

  it("serves each accepted request's entry with its chain position; replays and duplicates add none", async () => {
    const token = await mintToken(tenant, "coherence:read coherence:write");
    const post = async (body: unknown, headers: Record<string, string> = {}) => {
      const res = await ingest(svc.baseUrl, body, token, headers);
      expect(res.status, res.text).toBe(202);
      return res.body as IngestOk;
    };
    const s1 = signal(tenant, { signalId: "a1" });
    const firstBody = { signals: [s1, signal(tenant, { signalId: "a2" })] };
    accepted.push(await post(firstBody, { "idempotency-key": "k-1" }));
    // The same request again under its key: a replay, the first request's provenance id, no entry.
    const replay = await post(firstBody, { "idempotency-key": "k-1" });
    expect(replay.provenanceId).toBe(accepted[0]?.provenanceId);
    // Only duplicates: no entry.
    const dup = await post(s1);
    expect(dup.accepted).toBe(0);
    for (let i = 3; i <= 6; i++) accepted.push(await post(signal(tenant, { signalId: `a${i}` })));

    const res = await send(`${svc.baseUrl}/v1/tenants/${tenant}/provenance/${accepted[2]?.provenanceId}`, {
      headers: bearer(await mintToken(tenant, "coherence:read")),
    });
    expect(res.status, res.text).toBe(200);
    const body = res.body as { entry: Record<string, unknown>; chain: Record<string, unknown> };
    expect(body.chain).toEqual({ position: 3, head: accepted.length, storedIn: "object" });
    expect(body.entry).toMatchObject({
      tenantId: tenant,
      seq: 3,
      provenanceId: accepted[2]?.provenanceId,
      signalCount: 1,
    });
    expect(body.entry.requestSha256).toMatch(/^[0-9a-f]{64}$/);

    // Nothing of another tenant's, and not with a write-only token.
    const other = await send(`${svc.baseUrl}/v1/tenants/${tenant}/provenance/${accepted[2]?.provenanceId}`, {
      headers: bearer(await mintToken(newTenant("prov-other"), "coherence:read")),
    });
    expectRestError(other, 403, "FORBIDDEN");
    const writeOnly = await send(`${svc.baseUrl}/v1/tenants/${tenant}/provenance`, {
      headers: bearer(await mintToken(tenant, "coherence:write")),
    });
    expectRestError(writeOnly, 403, "FORBIDDEN");
    const missing = await send(`${svc.baseUrl}/v1/tenants/${tenant}/provenance/${crypto.randomUUID()}`, {
      headers: bearer(await mintToken(tenant, "coherence:read")),
    });
    expectRestError(missing, 404, "NOT_FOUND");

    // Every accepted request's entry reaches Postgres once, in order.
    await eventually("the ledger in Postgres", async () => (await pgCount(tenant)) === accepted.length);
    expect(
      await psql(
        `SELECT string_agg(provenance_id, ',' ORDER BY seq) FROM provenance_ledger WHERE tenant_id = '${tenant}'`,
      ),
    ).toBe(accepted.map((a) => a.provenanceId).join(","));
  });

  it("npm run provenance:verify holds on the untouched chain, and finds an edited, deleted or reordered row", async () => {
    const ok = await verify(tenant);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain(`Postgres entries 1..${accepted.length} (${accepted.length})`);
    expect(ok.out).toContain("OK: the chain holds");

    // Each tampering is undone from a copy before the next.
    const save = `DROP TABLE IF EXISTS ledger_saved; CREATE TABLE ledger_saved AS SELECT * FROM provenance_ledger WHERE tenant_id = '${tenant}'`;
    const restore = `BEGIN; DELETE FROM provenance_ledger WHERE tenant_id = '${tenant}'; INSERT INTO provenance_ledger SELECT * FROM ledger_saved; COMMIT`;
    const cases: Array<[string, string, RegExp]> = [
      [
        "edited",
        `UPDATE provenance_ledger SET signal_count = 7 WHERE tenant_id = '${tenant}' AND seq = 3`,
        /BROKEN at entry 3 \(postgres, hash\)/,
      ],
      [
        "deleted",
        `DELETE FROM provenance_ledger WHERE tenant_id = '${tenant}' AND seq = 2`,
        /BROKEN at entry 3 \(postgres, gap\)/,
      ],
      [
        "reordered",
        `BEGIN; UPDATE provenance_ledger SET seq = -2 WHERE tenant_id = '${tenant}' AND seq = 2;
         UPDATE provenance_ledger SET seq = 2 WHERE tenant_id = '${tenant}' AND seq = 3;
         UPDATE provenance_ledger SET seq = 3 WHERE tenant_id = '${tenant}' AND seq = -2; COMMIT`,
        /BROKEN at entry 2 \(postgres, link\)/,
      ],
    ];
    for (const [name, sql, expected] of cases) {
      await psql(save);
      await psql(sql);
      const broken = await verify(tenant);
      await psql(restore);
      expect(broken.code, `${name}: ${broken.out}`).toBe(1);
      expect(broken.out, name).toMatch(expected);
    }

    // Rewritten consistently from entry 4 on (each later hash recomputed): Postgres holds on its own, and only the
    // tenant's object, which still has the original entries, tells.
    const rows = JSON.parse(
      await psql(
        `SELECT json_agg(json_build_object('tenantId', tenant_id, 'seq', seq, 'provenanceId', provenance_id,
           'requestSha256', request_sha256, 'signalCount', signal_count, 'policyTags', policy_tags,
           'receivedAtMs', received_at_ms, 'prevHash', prev_hash, 'hash', hash) ORDER BY seq)
         FROM provenance_ledger WHERE tenant_id = '${tenant}'`,
      ),
    ) as LedgerEntry[];
    const forged: LedgerEntry[] = rows.slice(0, 3);
    for (const e of rows.slice(3)) {
      const { hash: _h, prevHash: _p, seq: _s, ...fields } = e;
      forged.push(nextLedgerEntry(forged.at(-1) ?? null, { ...fields, signalCount: e.seq === 4 ? 0 : e.signalCount }));
    }
    await psql(save);
    await psql(
      `BEGIN; ${forged
        .slice(3)
        .map(
          (e) =>
            `UPDATE provenance_ledger SET signal_count = ${e.signalCount}, prev_hash = '${e.prevHash}', hash = '${e.hash}' WHERE tenant_id = '${tenant}' AND seq = ${e.seq};`,
        )
        .join(" ")} COMMIT`,
    );
    const postgresOnly = await verify(tenant, ["--no-object"]);
    const both = await verify(tenant);
    await psql(restore);
    expect(postgresOnly.code, postgresOnly.out).toBe(0);
    expect(both.code, both.out).toBe(1);
    expect(both.out).toMatch(/BROKEN at entry 4 \(postgres, mismatch\)/);

    const again = await verify(tenant);
    expect(again.code, again.out).toBe(0);
  });

  it("keeps entries 365 days: the cron removes older ones as a prefix, and the chain stays checkable", async () => {
    // A chain whose first three requests are 400 days old, written as the ledger's owner would have.
    const old = newTenant("prov-old");
    const now = Date.now();
    const tags = { purpose: "benchmarking", retention: "standard-365d", license: "Restricted-TOS", residency: "US" };
    const chain: LedgerEntry[] = [];
    for (let i = 0; i < 5; i++) {
      chain.push(
        nextLedgerEntry(chain.at(-1) ?? null, {
          tenantId: old,
          provenanceId: crypto.randomUUID(),
          requestSha256: "a".repeat(64),
          signalCount: 1,
          policyTags: tags,
          receivedAtMs: i < 3 ? now - 400 * 86_400_000 + i : now - 1000 + i,
        }),
      );
    }
    await insertLedger(chain);
    const before = await verify(old, ["--no-object"]);
    expect(before.code, before.out).toBe(0);

    // The Worker's own role may purge only through the function, and never younger than 365 days.
    await expect(psql(`SELECT purge_provenance_ledger(${now})`, workerUrl())).rejects.toThrow(/kept 365 days/);
    await expect(psql(`DELETE FROM provenance_ledger_anchor`, workerUrl())).rejects.toThrow(/permission denied/);

    const cron = await fetch(`${svc.baseUrl}/__scheduled?cron=${encodeURIComponent("17 3 * * *")}`);
    expect(cron.status).toBe(200);
    await eventually("the purge", async () => (await pgCount(old)) === 2, 30_000);
    expect(await psql(`SELECT seq || ':' || hash FROM provenance_ledger_anchor WHERE tenant_id = '${old}'`)).toBe(
      `3:${chain[2]?.hash}`,
    );
    // The other tenant's young entries are untouched.
    expect(await pgCount(tenant)).toBe(accepted.length);

    const after = await verify(old, ["--no-object"]);
    expect(after.code, after.out).toBe(0);
    expect(after.out).toContain("linked to the last entry retention removed");

    // An entry older than a day is read from Postgres when the object no longer has it.
    const fromPg = await send(`${svc.baseUrl}/v1/tenants/${old}/provenance/${chain[4]?.provenanceId}`, {
      headers: bearer(await mintToken(old, "coherence:read")),
    });
    expect(fromPg.status, fromPg.text).toBe(200);
    expect((fromPg.body as { chain: unknown }).chain).toEqual({ position: 5, head: 5, storedIn: "postgres" });

    // Removing the oldest remaining entry is not retention: the chain no longer links to what the purge recorded.
    await psql(`DELETE FROM provenance_ledger WHERE tenant_id = '${old}' AND seq = 4`);
    const cut = await verify(old, ["--no-object"]);
    expect(cut.code, cut.out).toBe(1);
    expect(cut.out).toMatch(/BROKEN at entry 5 \(postgres, gap\)/);
  });

  it("honours POLICY_RETENTION (short-30d): the cron removes what is older, the writer cannot remove younger", async () => {
    setRetentionPolicy(pg.url, "short-30d"); // as `npm run migrate` does with POLICY_RETENTION=short-30d
    const svc30 = await startService({
      env: { DATABASE_URL: workerUrl(), NEON_WSPROXY: proxy.url, POLICY_RETENTION: "short-30d" },
    });
    try {
      const day = 86_400_000;
      const now = Date.now();
      const t30 = newTenant("prov-30d");
      const tags = { purpose: "benchmarking", retention: "short-30d", license: "Restricted-TOS", residency: "US" };
      const chain: LedgerEntry[] = [];
      for (const ageDays of [40, 39, 20, 1]) {
        chain.push(
          nextLedgerEntry(chain.at(-1) ?? null, {
            tenantId: t30,
            provenanceId: crypto.randomUUID(),
            requestSha256: "b".repeat(64),
            signalCount: 1,
            policyTags: tags,
            receivedAtMs: now - ageDays * day,
          }),
        );
      }
      await insertLedger(chain);
      await psql(
        `INSERT INTO coherence_scores (tenant_id, score, status, updated_at, signal_count, version) VALUES
           ('${t30}-idle', 0.5, 'WARN', now() - interval '40 days', 1, 1),
           ('${t30}-recent', 0.5, 'WARN', now() - interval '20 days', 1, 1)`,
      );
      // The writer's role cannot purge inside the 30 days the policy keeps.
      await expect(psql(`SELECT purge_provenance_ledger(${now - 20 * day})`, workerUrl())).rejects.toThrow(
        /kept 30 days/,
      );
      const cron = await fetch(`${svc30.baseUrl}/__scheduled?cron=${encodeURIComponent("17 3 * * *")}`);
      expect(cron.status).toBe(200);
      await eventually("the 30-day purge", async () => (await pgCount(t30)) === 2, 30_000);
      expect(await psql(`SELECT seq FROM provenance_ledger WHERE tenant_id = '${t30}' ORDER BY seq`)).toBe("3\n4");
      expect(await psql(`SELECT tenant_id FROM coherence_scores WHERE tenant_id LIKE '${t30}-%' ORDER BY 1`)).toBe(
        `${t30}-recent`,
      );
      expect(svc30.output()).toMatch(/"op":"retention","policy":"short-30d"/);
    } finally {
      await svc30.stop();
      setRetentionPolicy(pg.url, "standard-365d");
    }
  });
});
