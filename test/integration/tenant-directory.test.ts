// The operators' overview store (durable-objects/tenant-directory.ts) in workerd: worst-first order, keyset pages
// that neither skip nor repeat a tenant while reports arrive, late reports ignored, and the tenants' objects
// reporting to it by themselves after a score change.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { TenantObject } from "../../durable-objects/tenant";
import type { TenantSummary } from "../../src/domain/overview";
import { command, signal } from "./helpers";

const directory = () => env.TENANT_DIRECTORY.get(env.TENANT_DIRECTORY.idFromName("directory"));

function summary(tenantId: string, status: TenantSummary["status"], score: number, updatedMs = 1000): TenantSummary {
  return { tenantId, status, score, signalCount: 1, lastSignalMs: updatedMs, updatedMs };
}

describe("tenant directory", () => {
  it("lists worst first and pages by cursor without skipping or repeating while reports arrive", async () => {
    const dir = directory();
    const rows = [
      summary("dir-h1", "HEALTHY", 0.9),
      summary("dir-c1", "CRITICAL", 0.3),
      summary("dir-w1", "WARN", 0.6),
      summary("dir-c2", "CRITICAL", 0.1),
      summary("dir-u1", "UNKNOWN", 0),
      summary("dir-h2", "HEALTHY", 0.8),
    ];
    for (const r of rows) await dir.report(r);
    const all = await dir.overview(100, null);
    const order = all.tenants.map((t) => t.tenantId).filter((id) => id.startsWith("dir-"));
    expect(order).toEqual(["dir-c2", "dir-c1", "dir-w1", "dir-h2", "dir-h1", "dir-u1"]);
    expect(all.byStatus).toMatchObject({ CRITICAL: expect.any(Number), UNKNOWN: expect.any(Number) });
    expect(all.total).toBe(Object.values(all.byStatus).reduce((a, b) => a + b, 0));

    // Two at a time; between pages a tenant not yet seen improves and one already seen worsens.
    const seen: string[] = [];
    let after: string | null = null;
    let page = 0;
    do {
      const p = await dir.overview(2, after);
      seen.push(...p.tenants.map((t) => t.tenantId));
      after = p.next;
      if (page++ === 0) {
        await dir.report(summary("dir-h1", "HEALTHY", 0.95, 2000));
        await dir.report(summary("dir-c2", "CRITICAL", 0.05, 2000));
      }
    } while (after !== null);
    const mine = seen.filter((id) => id.startsWith("dir-"));
    expect(new Set(mine).size).toBe(mine.length);
    expect(mine.sort()).toEqual(rows.map((r) => r.tenantId).sort());
  });

  it("ignores a report older than the one it keeps", async () => {
    const dir = directory();
    await dir.report(summary("dir-late", "HEALTHY", 0.9, 5000));
    await dir.report(summary("dir-late", "CRITICAL", 0.1, 4000));
    const { tenants } = await dir.overview(1000, null);
    expect(tenants.find((t) => t.tenantId === "dir-late")).toMatchObject({ status: "HEALTHY", score: 0.9 });
  });

  it("hears from a tenant's object after its score changes", async () => {
    const tenant = "dir-reporter";
    const stub = env.TENANT.get(env.TENANT.idFromName(tenant));
    const now = Date.now();
    await runInDurableObject(stub, (obj: TenantObject) => {
      obj.clock = () => now;
    });
    await stub.ingest(command(tenant, [signal(tenant, now - 1000, 0.2), signal(tenant, now - 2000, 0.4)], now));
    // The report is due DIRECTORY_REPORT_MS later, on the object's timers (run by its alarm).
    await runInDurableObject(stub, (obj: TenantObject) => {
      obj.clock = () => now + 5000;
    });
    await runDurableObjectAlarm(stub);
    await expect
      .poll(async () => (await directory().overview(1000, null)).tenants.find((t) => t.tenantId === tenant), {
        timeout: 5000,
      })
      .toMatchObject({ status: "CRITICAL", score: 0.3, signalCount: 2 });
  });
});
