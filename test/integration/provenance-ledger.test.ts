import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { verifyChain } from "../../src/domain/ledger";
import { command, signal } from "./helpers";

// The provenance ledger in the tenant's object: one hash-chained entry per request that stored a new signal,
// appended in the ingest's transaction; replays and wholly duplicate requests add none.

const stubOf = (tenantId: string) => env.TENANT.get(env.TENANT.idFromName(tenantId));

describe("provenance ledger in the tenant's object", () => {
  it("chains one entry per accepted request, none for a replay or an all-duplicate request", async () => {
    const tenantId = "ledger-a";
    const stub = stubOf(tenantId);
    const now = Date.now();
    const first = command(tenantId, [signal(tenantId, now - 1000, 0.5), signal(tenantId, now - 900, 0.7)], now);
    const withKey = { ...first, idempotency: { key: "k1", bodyHash: "h1" } };
    expect((await stub.ingest(withKey)).kind).toBe("applied");
    // The same request again under its Idempotency-Key: replayed, no entry.
    const replay = await stub.ingest({ ...withKey, provenanceId: crypto.randomUUID() });
    expect(replay).toMatchObject({ kind: "applied", replayed: true });
    // The same signals under a new request: all duplicates, no entry.
    const dup = await stub.ingest({ ...first, provenanceId: crypto.randomUUID(), requestHash: "dup" });
    expect(dup).toMatchObject({ kind: "applied", response: { accepted: 0, duplicates: 2 } });
    // A request with one new signal: an entry counting that one.
    const mixed = command(tenantId, [signal(tenantId, now - 1000, 0.5), signal(tenantId, now - 800, 0.9)], now);
    await stub.ingest({ ...mixed, requestHash: "mixed" });

    const { entries, head } = await stub.ledgerAfter(0);
    expect(entries.map((e) => [e.seq, e.provenanceId, e.signalCount, e.requestSha256])).toEqual([
      [1, first.provenanceId, 2, first.requestHash],
      [2, mixed.provenanceId, 1, "mixed"],
    ]);
    expect(entries[0]?.policyTags).toEqual(first.policyTags);
    expect(verifyChain(entries, null)).toBeNull();
    expect((await stub.ledgerAfter(1)).entries).toEqual(entries.slice(1));
    expect(head).toEqual({ seq: 2, hash: entries[1]?.hash });

    // One entry by its request's provenance id, with the chain's head; an unknown id has none.
    expect(await stub.ledgerEntry(mixed.provenanceId)).toEqual({ entry: entries[1], head });
    expect(await stub.ledgerEntry(replay.kind === "applied" ? replay.response.provenanceId : "")).toEqual({
      entry: entries[0],
      head,
    });
    expect(await stub.ledgerEntry(crypto.randomUUID())).toEqual({ entry: null, head });
  });

  it("has no head before the first accepted request", async () => {
    const stub = stubOf("ledger-empty");
    expect(await stub.ledgerAfter(0)).toEqual({ entries: [], head: null });
    expect(await stub.ledgerEntry(crypto.randomUUID())).toEqual({ entry: null, head: null });
  });
});
