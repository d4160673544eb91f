import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/domain/dedupe-key";
import {
  buildRegistry,
  normalizeOperationParams,
  operationKey,
  PERSISTED_OPERATIONS,
} from "../../src/graphql/persisted";

const READ = "query($tenantId:ID!){ tenantCoherence(tenantId:$tenantId){ score status updatedAt } }";

describe("persisted operation registry", () => {
  it("holds the contract's texts byte for byte", () => {
    expect(PERSISTED_OPERATIONS.pq_tenant_coherence_v1).toBe(READ);
    expect(PERSISTED_OPERATIONS.pq_publish_signal_v1).toBe(
      "mutation($input:PublishCoherenceSignalInput!){ publishCoherenceSignal(input:$input) }",
    );
  });

  it("finds each operation by name and by sha256 of its text", async () => {
    const registry = await buildRegistry(PERSISTED_OPERATIONS, sha256Hex);
    const hash = createHash("sha256").update(READ).digest("hex");
    expect(registry.byKey.get("pq_tenant_coherence_v1")).toBe(READ);
    expect(registry.byKey.get(hash)).toBe(READ);
  });

  it("reads the key from id, documentId or the APQ extension", () => {
    expect(operationKey({ id: "a" })).toBe("a");
    expect(operationKey({ documentId: "b" })).toBe("b");
    expect(operationKey({ extensions: { persistedQuery: { version: 1, sha256Hash: "c" } } })).toBe("c");
    expect(operationKey({ query: "{x}" })).toBeNull();
  });

  it("turns a registered query text into its name and leaves other text alone", async () => {
    const registry = await buildRegistry(PERSISTED_OPERATIONS, sha256Hex);
    expect(normalizeOperationParams({ query: READ }, registry)).toEqual({
      query: undefined,
      documentId: "pq_tenant_coherence_v1",
    });
    expect(normalizeOperationParams({ query: `${READ} ` }, registry)).toEqual({ query: `${READ} ` });
    expect(normalizeOperationParams({ query: "{x}", id: "k" }, registry)).toEqual({ query: undefined, id: "k" });
  });
});
