import { describe, expect, it } from "vitest";
import { batchBody, TenantBatcher } from "../src/batches.ts";

const item = (json: string) => ({ json, bytes: Buffer.byteLength(json) });

describe("TenantBatcher", () => {
  it("keeps one batch per tenant and closes it at the item limit", () => {
    const b = new TenantBatcher({ maxItems: 2, maxBytes: 1000 });
    expect(b.add("a", item('{"n":1}'), 0)).toEqual([]);
    expect(b.add("b", item('{"n":2}'), 1)).toEqual([]);
    const full = b.add("a", item('{"n":3}'), 2);
    expect(full).toHaveLength(1);
    expect(full[0]?.tenantId).toBe("a");
    expect(full[0]?.items.map((i) => i.json)).toEqual(['{"n":1}', '{"n":3}']);
    expect(b.size).toBe(1);
  });

  it("closes a batch before an item that would push the body past the byte limit", () => {
    const one = item(`{"p":"${"x".repeat(40)}"}`);
    const limit = batchBody([one, one]).length; // exactly two fit
    const b = new TenantBatcher({ maxItems: 1000, maxBytes: limit });
    b.add("a", one, 0);
    expect(b.add("a", one, 0)).toEqual([]);
    const full = b.add("a", one, 0);
    expect(full).toHaveLength(1);
    expect(batchBody(full[0]?.items ?? []).length).toBeLessThanOrEqual(limit);
    expect(full[0]?.bytes).toBe(batchBody(full[0]?.items ?? []).length);
  });

  it("hands out due batches oldest first, and the oldest on demand", () => {
    const b = new TenantBatcher({ maxItems: 10, maxBytes: 10_000 });
    b.add("a", item("1"), 100);
    b.add("b", item("2"), 150);
    b.add("c", item("3"), 200);
    expect(b.oldestOpenedAt()).toBe(100);
    expect(b.takeDue(150)?.tenantId).toBe("a");
    b.add("a", item("4"), 300); // reopened: now the newest
    expect(b.takeDue(150)?.tenantId).toBe("b");
    expect(b.takeDue(150)).toBeNull(); // c is not due yet, and stays open
    expect(b.takeOldest()?.tenantId).toBe("c");
    expect(b.takeOldest()?.tenantId).toBe("a");
    expect(b.takeOldest()).toBeNull();
    expect(b.size).toBe(0);
  });

  it("builds the contract's batch body", () => {
    expect(batchBody([item('{"a":1}'), item('{"b":2}')])).toBe('{"signals":[{"a":1},{"b":2}]}');
  });
});
