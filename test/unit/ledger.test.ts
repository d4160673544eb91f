import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  auditLedger,
  GENESIS_HASH,
  type LedgerEntry,
  ledgerHash,
  nextLedgerEntry,
  verifyChain,
} from "../../src/domain/ledger";

const tags = { purpose: "benchmarking", retention: "standard-365d", license: "Restricted-TOS", residency: "US" };

function chain(n: number): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      nextLedgerEntry(out[i - 1] ?? null, {
        tenantId: "acme",
        provenanceId: `p-${i}`,
        requestSha256: createHash("sha256").update(`body ${i}`).digest("hex"),
        signalCount: i + 1,
        policyTags: tags,
        receivedAtMs: 1_700_000_000_000 + i,
      }),
    );
  }
  return out;
}

describe("provenance ledger hash chain", () => {
  it("starts on the genesis hash, links each entry to the previous one, and verifies", () => {
    const c = chain(5);
    expect(c[0]?.seq).toBe(1);
    expect(c[0]?.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < c.length; i++) expect(c[i]?.prevHash).toBe(c[i - 1]?.hash);
    expect(new Set(c.map((e) => e.hash)).size).toBe(5);
    expect(c[0]?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(verifyChain(c, null)).toBeNull();
    expect(verifyChain(c.slice(2), c[1] ?? null)).toBeNull();
  });

  it("finds an edited entry (any field)", () => {
    for (const edit of [
      (e: LedgerEntry) => ({ ...e, signalCount: e.signalCount + 1 }),
      (e: LedgerEntry) => ({ ...e, requestSha256: "0".repeat(64) }),
      (e: LedgerEntry) => ({ ...e, policyTags: { ...e.policyTags, residency: "EU" } }),
      (e: LedgerEntry) => ({ ...e, receivedAtMs: e.receivedAtMs + 1 }),
      (e: LedgerEntry) => ({ ...e, provenanceId: "p-forged" }),
    ]) {
      const c = chain(5);
      c[2] = edit(c[2] as LedgerEntry);
      expect(verifyChain(c, null)).toMatchObject({ seq: 3, reason: "hash" });
    }
  });

  it("finds an edit whose hash was recomputed: the next entry's link breaks", () => {
    const c = chain(5);
    const { hash: _, ...fields } = { ...(c[2] as LedgerEntry), signalCount: 99 };
    c[2] = { ...fields, hash: ledgerHash(fields) };
    expect(verifyChain(c, null)).toMatchObject({ seq: 4, reason: "link" });
  });

  it("finds a deleted entry and a reordered pair", () => {
    const deleted = chain(5);
    deleted.splice(1, 1);
    expect(verifyChain(deleted, null)).toMatchObject({ seq: 3, reason: "gap" });
    const reordered = chain(5);
    [reordered[1], reordered[2]] = [reordered[2] as LedgerEntry, reordered[1] as LedgerEntry];
    expect(verifyChain(reordered, null)).toMatchObject({ seq: 3, reason: "gap" });
    const lastDropped = chain(5).slice(1);
    expect(verifyChain(lastDropped, null)).toMatchObject({ seq: 2, reason: "gap" });
  });
});

describe("ledger audit across Postgres and the tenant's object (npm run provenance:verify)", () => {
  const c = chain(8);
  const head = (n: number) => ({ seq: n, hash: c[n - 1]?.hash as string });
  const link = (n: number) => ({ link: head(n), kind: "entry" as const });

  it("holds when both chains hold and agree; counts what has not reached Postgres", () => {
    const audit = auditLedger({
      postgres: c.slice(0, 6),
      anchor: null,
      object: { entries: c.slice(3), head: head(8) },
    });
    expect(audit).toMatchObject({
      ok: true,
      break: null,
      notYetInPostgres: 2,
      postgres: { entries: 6, first: 1, last: 6, anchor: "genesis" },
      object: { entries: 5, first: 4, last: 8, head: 8 },
    });
    // A span in the middle, linked to the entry before it; Postgres alone.
    expect(auditLedger({ postgres: c.slice(2, 5), anchor: link(2), object: null }).ok).toBe(true);
    // After retention removed 1..3, linked to the last removed entry.
    const purged = auditLedger({ postgres: c.slice(3), anchor: { link: head(3), kind: "purged" }, object: null });
    expect(purged).toMatchObject({ ok: true, postgres: { anchor: "purged", first: 4 } });
  });

  it("finds an edited, deleted or reordered Postgres row", () => {
    const edited = c.slice(0, 6).map((e) => (e.seq === 4 ? { ...e, signalCount: 99 } : e));
    expect(auditLedger({ postgres: edited, anchor: null, object: null }).break).toMatchObject({
      seq: 4,
      store: "postgres",
      reason: "hash",
    });
    const deleted = c.slice(0, 6).filter((e) => e.seq !== 3);
    expect(auditLedger({ postgres: deleted, anchor: null, object: null }).break).toMatchObject({
      seq: 4,
      reason: "gap",
    });
    // Rows 2 and 3 swapped in place (each takes the other's position).
    const [e2, e3] = [c[1] as LedgerEntry, c[2] as LedgerEntry];
    const swapped = [c[0], { ...e3, seq: 2 }, { ...e2, seq: 3 }, ...c.slice(3, 6)] as LedgerEntry[];
    expect(auditLedger({ postgres: swapped, anchor: null, object: null }).break).toMatchObject({
      seq: 2,
      reason: "link",
    });
    // A deleted prefix is not retention: the first row must link to what retention recorded.
    expect(
      auditLedger({ postgres: c.slice(4), anchor: { link: head(3), kind: "purged" }, object: null }).break,
    ).toMatchObject({ seq: 5, reason: "gap" });
    expect(auditLedger({ postgres: c.slice(4), anchor: null, object: null }).break).toMatchObject({ reason: "gap" });
  });

  it("finds a Postgres chain rewritten consistently, by the object's copy", () => {
    // Entry 5 edited and every later hash recomputed: Postgres holds on its own, the object disagrees.
    const rewritten: LedgerEntry[] = c.slice(0, 4);
    for (const e of c.slice(4, 7)) {
      const { hash: _h, prevHash: _p, seq: _s, ...fields } = e;
      rewritten.push(
        nextLedgerEntry(rewritten.at(-1) ?? null, { ...fields, signalCount: e.seq === 5 ? 0 : e.signalCount }),
      );
    }
    expect(auditLedger({ postgres: rewritten, anchor: null, object: null }).ok).toBe(true);
    expect(
      auditLedger({ postgres: rewritten, anchor: null, object: { entries: c.slice(2), head: head(8) } }).break,
    ).toMatchObject({ seq: 5, store: "postgres", reason: "mismatch" });
  });

  it("finds entries Postgres holds past the object's head, and a broken object chain", () => {
    expect(
      auditLedger({ postgres: c.slice(0, 6), anchor: null, object: { entries: c.slice(2, 4), head: head(4) } }).break,
    ).toMatchObject({ seq: 5, reason: "unknown" });
    expect(
      auditLedger({ postgres: c.slice(0, 2), anchor: null, object: { entries: [], head: null } }).break,
    ).toMatchObject({ reason: "unknown" });
    const broken = c.slice(2).map((e) => (e.seq === 6 ? { ...e, requestSha256: "f".repeat(64) } : e));
    expect(
      auditLedger({ postgres: c.slice(0, 4), anchor: null, object: { entries: broken, head: head(8) } }).break,
    ).toMatchObject({ seq: 6, store: "object", reason: "hash" });
  });
});
