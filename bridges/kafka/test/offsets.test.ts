import { describe, expect, it } from "vitest";
import { PartitionProgress } from "../src/offsets.ts";

describe("PartitionProgress", () => {
  it("commits nothing until the first record is finished", () => {
    const p = new PartitionProgress<string>();
    p.add(10n, "a");
    p.add(11n, "b");
    expect(p.takeCommittable()).toBeNull();
    p.finish(11n);
    expect(p.takeCommittable()).toBeNull();
    expect(p.pending).toBe(1);
  });

  it("moves over the finished prefix only, whatever the finishing order", () => {
    const p = new PartitionProgress<string>();
    for (const o of [5n, 6n, 8n, 9n]) p.add(o, `r${o}`); // 7 is a gap (a transaction marker)
    p.finish(8n);
    p.finish(5n);
    expect(p.takeCommittable()).toEqual({ offset: 5n, item: "r5" });
    expect(p.takeCommittable()).toBeNull(); // once per advance
    p.finish(6n);
    expect(p.takeCommittable()).toEqual({ offset: 8n, item: "r8" });
    p.finish(9n);
    expect(p.takeCommittable()).toEqual({ offset: 9n, item: "r9" });
    expect(p.pending).toBe(0);
  });

  it("refuses a record that is not past the last one (the consumer went back) until reset", () => {
    const p = new PartitionProgress<string>();
    p.add(20n, "a");
    expect(p.add(20n, "again")).toBe(false);
    expect(p.add(3n, "rewound")).toBe(false);
    p.reset();
    expect(p.add(3n, "rewound")).toBe(true);
    p.finish(20n); // an old record finishing after the reset changes nothing
    expect(p.takeCommittable()).toBeNull();
    p.finish(3n);
    expect(p.takeCommittable()).toEqual({ offset: 3n, item: "rewound" });
  });

  it("stays correct over many records (compaction of its queue)", () => {
    const p = new PartitionProgress<number>();
    for (let i = 0; i < 5000; i++) p.add(BigInt(i), i);
    for (let i = 4999; i >= 1; i--) p.finish(BigInt(i));
    expect(p.takeCommittable()).toBeNull();
    p.finish(0n);
    expect(p.takeCommittable()).toEqual({ offset: 4999n, item: 4999 });
    for (let i = 5000; i < 7000; i++) p.add(BigInt(i), i);
    for (let i = 5000; i < 7000; i++) p.finish(BigInt(i));
    expect(p.takeCommittable()).toEqual({ offset: 6999n, item: 6999 });
  });
});
