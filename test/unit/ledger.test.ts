import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { GENESIS_HASH, type LedgerEntry, ledgerHash, nextLedgerEntry, verifyChain } from "../../src/domain/ledger";

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
