import { describe, expect, it } from "vitest";
import { type DeadLetter, DeadLetterWriter, deadLetterOf } from "../src/dead-letters.ts";

const source = {
  topic: "coherence.signals.v1",
  partition: 1,
  offset: 77n,
  timestampMs: 1_700_000_000_000,
  key: Buffer.from("k"),
  value: Buffer.from("not json"),
  headers: [
    [Buffer.from("trace-id"), Buffer.from("abc")],
    [Buffer.from("x-error-code"), Buffer.from("spoofed")],
  ] as Array<[Buffer, Buffer]>,
};

describe("deadLetterOf", () => {
  it("keeps key, value and headers and adds the contract's headers (ours win)", () => {
    const l = deadLetterOf(source, { code: "MALFORMED_JSON", reason: "the value is not valid JSON" }, null);
    expect(l.key?.toString()).toBe("k");
    expect(l.value?.toString()).toBe("not json");
    const h = Object.fromEntries([...l.headers].map(([k, v]) => [k, v.toString()]));
    expect(h).toEqual({
      "trace-id": "abc",
      "x-error-code": "MALFORMED_JSON",
      "x-error-reason": "the value is not valid JSON",
      "x-source-topic": "coherence.signals.v1",
      "x-source-partition": "1",
      "x-source-offset": "77",
      "x-source-timestamp": "1700000000000",
    });
  });

  it("bounds the reason and names the tenant when known", () => {
    const l = deadLetterOf(source, { code: "VALIDATION_FAILED", reason: "é".repeat(5000) }, "acme");
    expect(l.headers.get("x-error-reason")?.length).toBeLessThanOrEqual(1024);
    expect(l.headers.get("x-tenant-id")?.toString()).toBe("acme");
  });
});

describe("DeadLetterWriter", () => {
  it("batches letters of one tick and retries a failed write until it lands", async () => {
    const writes: number[] = [];
    let fail = 1;
    const writer = new DeadLetterWriter(
      "dlq",
      {
        send: async (_topic, letters) => {
          if (fail-- > 0) throw new Error("broker away");
          writes.push(letters.length);
        },
        sleep: async () => undefined,
        failed: () => undefined,
      },
      { baseMs: 1, maxMs: 2 },
      new AbortController().signal,
    );
    const letter: DeadLetter = { key: undefined, value: undefined, headers: new Map() };
    await Promise.all([writer.write(letter), writer.write(letter), writer.write(letter)]);
    expect(writes).toEqual([3]);
  });

  it("gives up on shutdown, rejecting what it could not write", async () => {
    const abort = new AbortController();
    const writer = new DeadLetterWriter(
      "dlq",
      {
        send: async () => {
          throw new Error("broker away");
        },
        sleep: async () => {
          abort.abort(new Error("shutdown"));
        },
        failed: () => undefined,
      },
      { baseMs: 1, maxMs: 2 },
      abort.signal,
    );
    await expect(writer.write({ key: undefined, value: undefined, headers: new Map() })).rejects.toThrow("shutdown");
  });
});
