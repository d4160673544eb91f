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

/** A chain's newest (or a known) entry: what the next entry links to. */
export interface LedgerLink {
  seq: number;
  hash: string;
}

/** Where a ledger audit found the chain broken, and in which store. */
export interface LedgerAuditBreak extends Omit<ChainBreak, "reason"> {
  store: "postgres" | "object";
  /**
   * `gap`, `link`, `hash`: as in {@link ChainBreak}. `mismatch`: both stores hold this position with different
   * hashes. `unknown`: Postgres holds a position after the object's newest entry, which the object never wrote.
   */
  reason: ChainBreak["reason"] | "mismatch" | "unknown";
}

/** The result of {@link auditLedger}: each store's span, the first broken link, and what has not reached Postgres. */
export interface LedgerAudit {
  ok: boolean;
  postgres: { entries: number; first: number | null; last: number | null; anchor: "genesis" | "entry" | "purged" };
  object: { entries: number; first: number | null; last: number | null; head: number | null } | null;
  /** The object's entries after Postgres' newest: accepted, not yet flushed (the sinks run behind by seconds). */
  notYetInPostgres: number;
  break: LedgerAuditBreak | null;
}

/**
 * Audits one tenant's ledger across both stores (`npm run provenance:verify`). `postgres`: the rows of the audited
 * span in `seq` order; `anchor`: what the span's first row must link to — the row before it (`entry`), the last
 * row the retention job removed (`purged`, recorded by it), or `null` for the chain's start. `object`: the entries
 * the tenant's object still holds (its last day or so, in order) and its head, or `null` when not asked.
 *
 * Both chains must hold on their own; every position both stores hold must carry the same hash; and Postgres may
 * not hold a position past the object's head (every entry is written by the object first).
 */
export function auditLedger(args: {
  postgres: readonly LedgerEntry[];
  anchor: { link: LedgerLink; kind: "entry" | "purged" } | null;
  object: { entries: readonly LedgerEntry[]; head: LedgerLink | null } | null;
}): LedgerAudit {
  const pg = args.postgres;
  const report: LedgerAudit = {
    ok: true,
    postgres: {
      entries: pg.length,
      first: pg[0]?.seq ?? null,
      last: pg.at(-1)?.seq ?? null,
      anchor: args.anchor?.kind ?? "genesis",
    },
    object: args.object && {
      entries: args.object.entries.length,
      first: args.object.entries[0]?.seq ?? null,
      last: args.object.entries.at(-1)?.seq ?? null,
      head: args.object.head?.seq ?? null,
    },
    notYetInPostgres: 0,
    break: null,
  };
  const fail = (b: LedgerAuditBreak): LedgerAudit => ({ ...report, ok: false, break: b });

  const pgBreak = verifyChain(pg, args.anchor?.link ?? null);
  if (pgBreak) return fail({ ...pgBreak, store: "postgres" });
  if (!args.object) return report;

  const { entries, head } = args.object;
  const bySeq = new Map(pg.map((e) => [e.seq, e]));
  const first = entries[0];
  if (first) {
    // The object keeps only its last day: its first entry links to one Postgres may hold (then it must agree).
    const before = bySeq.get(first.seq - 1);
    const anchor =
      first.seq === 1
        ? null
        : before
          ? { seq: before.seq, hash: before.hash }
          : { seq: first.seq - 1, hash: first.prevHash };
    const objectBreak = verifyChain(entries, anchor);
    if (objectBreak) return fail({ ...objectBreak, store: "object" });
  }
  for (const e of entries) {
    const stored = bySeq.get(e.seq);
    if (stored && stored.hash !== e.hash) {
      return fail({
        seq: e.seq,
        store: "postgres",
        reason: "mismatch",
        detail: "Postgres and the tenant's object hold different entries at this position",
      });
    }
  }
  const pgLast = report.postgres.last ?? 0;
  if (report.postgres.last !== null && (head === null || pgLast > head.seq)) {
    return fail({
      seq: head === null ? (report.postgres.first ?? 0) : head.seq + 1,
      store: "postgres",
      reason: "unknown",
      detail: `Postgres holds entries up to ${pgLast}, past the object's newest (${head?.seq ?? "none"})`,
    });
  }
  report.notYetInPostgres = entries.filter((e) => e.seq > pgLast).length;
  return report;
}
