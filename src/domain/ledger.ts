import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { PolicyTags } from "./provenance";

/**
 * The provenance ledger: one entry per accepted request of a tenant (a request that stored at least one new
 * signal), chained by hash — each entry's hash covers its fields and the previous entry's hash, so an edited,
 * deleted, inserted or reordered entry breaks every link after it. SHA-256 from @noble/hashes: synchronous, so the
 * tenant's object appends the entry inside the same storage transaction as the signals it stands for.
 */
export interface LedgerEntry {
  tenantId: string;
  /** Position in the tenant's chain, from 1, without gaps. */
  seq: number;
  provenanceId: string;
  /** sha256 (hex) of the request body as received. */
  requestSha256: string;
  /** Signals the request stored (duplicates excluded). */
  signalCount: number;
  policyTags: PolicyTags;
  receivedAtMs: number;
  /** The previous entry's hash ({@link GENESIS_HASH} for seq 1). */
  prevHash: string;
  hash: string;
}

/** `prevHash` of a chain's first entry. */
export const GENESIS_HASH = "0".repeat(64);

/** The hash of an entry: SHA-256 (hex) over its fields in a fixed order (tags by name), and the previous hash. */
export function ledgerHash(entry: Omit<LedgerEntry, "hash">): string {
  const tags = entry.policyTags;
  const canonical = JSON.stringify([
    "coherence-ledger-v1",
    entry.tenantId,
    entry.seq,
    entry.provenanceId,
    entry.requestSha256,
    entry.signalCount,
    [tags.license, tags.purpose, tags.residency, tags.retention],
    entry.receivedAtMs,
    entry.prevHash,
  ]);
  return bytesToHex(sha256(utf8ToBytes(canonical)));
}

/** The entry that follows `prev` (or starts the chain), with its hash. */
export function nextLedgerEntry(
  prev: { seq: number; hash: string } | null,
  fields: Omit<LedgerEntry, "seq" | "prevHash" | "hash">,
): LedgerEntry {
  const unhashed = { ...fields, seq: (prev?.seq ?? 0) + 1, prevHash: prev?.hash ?? GENESIS_HASH };
  return { ...unhashed, hash: ledgerHash(unhashed) };
}

/** Where a chain stops holding: the first entry whose position, link or hash is wrong. */
export interface ChainBreak {
  seq: number;
  reason: "gap" | "link" | "hash";
  detail: string;
}

/**
 * Checks entries of one tenant's chain, in the order given (by `seq`, as stored). `after` is the entry before the
 * first one (`null` when the list starts the chain; then the first must be seq 1 on the genesis hash). Returns the
 * first broken link, or `null` when every entry holds.
 */
export function verifyChain(
  entries: readonly LedgerEntry[],
  after: { seq: number; hash: string } | null,
): ChainBreak | null {
  let prev = after;
  for (const e of entries) {
    const expectedSeq = (prev?.seq ?? 0) + 1;
    if (e.seq !== expectedSeq) {
      return { seq: e.seq, reason: "gap", detail: `expected entry ${expectedSeq} here, found ${e.seq}` };
    }
    const expectedPrev = prev?.hash ?? GENESIS_HASH;
    if (e.prevHash !== expectedPrev) {
      return { seq: e.seq, reason: "link", detail: "its prevHash is not the previous entry's hash" };
    }
    const { hash, ...fields } = e;
    if (ledgerHash(fields) !== hash) {
      return { seq: e.seq, reason: "hash", detail: "its fields do not match its hash (edited)" };
    }
    prev = e;
  }
  return null;
}
