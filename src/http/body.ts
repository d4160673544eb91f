import { MAX_BODY_BYTES } from "../domain/ingest-body";
import { AppError } from "../errors";

/**
 * Reads a request body as bytes, refusing more than `limit` bytes with 413 before buffering them:
 * `Content-Length` is checked first, then the stream is cut off as soon as it passes the limit.
 */
export async function readBodyLimited(request: Request, limit = MAX_BODY_BYTES): Promise<Uint8Array<ArrayBuffer>> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (!request.body) return new Uint8Array(0);
  // A declared length within the limit: one read (the runtime enforces Content-Length on the body it delivers).
  if (declared !== null && /^\d+$/.test(declared)) return new Uint8Array(await request.arrayBuffer());
  const reader = request.body.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function tooLarge(limit: number): AppError {
  return new AppError(413, "PAYLOAD_TOO_LARGE", `request body exceeds ${limit} bytes`);
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Decodes UTF-8 strictly; invalid bytes are malformed JSON rather than silently replaced. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new AppError(400, "MALFORMED_JSON", "request body is not valid UTF-8");
  }
}
