import { describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../../src/domain/ingest-body";
import { AppError } from "../../src/errors";
import { readBodyLimited } from "../../src/http/body";

function streamed(bytes: number): Request {
  // A chunked body without Content-Length, so the limit must be enforced while streaming.
  const chunk = new Uint8Array(64 * 1024);
  let left = bytes;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left <= 0) return controller.close();
      const n = Math.min(left, chunk.byteLength);
      controller.enqueue(chunk.slice(0, n));
      left -= n;
    },
  });
  return new Request("http://x/", { method: "POST", body, duplex: "half" } as RequestInit);
}

describe("readBodyLimited", () => {
  it("accepts exactly 1 MiB", async () => {
    expect((await readBodyLimited(streamed(MAX_BODY_BYTES))).byteLength).toBe(MAX_BODY_BYTES);
    const sized = new Request("http://x/", { method: "POST", body: new Uint8Array(MAX_BODY_BYTES) });
    expect((await readBodyLimited(sized)).byteLength).toBe(MAX_BODY_BYTES);
  });

  it("refuses 1 MiB + 1 byte with 413, streamed or declared", async () => {
    await expect(readBodyLimited(streamed(MAX_BODY_BYTES + 1))).rejects.toMatchObject({
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
    });
    const sized = new Request("http://x/", { method: "POST", body: new Uint8Array(MAX_BODY_BYTES + 1) });
    await expect(readBodyLimited(sized)).rejects.toBeInstanceOf(AppError);
  });
});
