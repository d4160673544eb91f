/** W3C Trace Context ids: lowercase hex, 16 bytes for a trace, 8 for a span, never all zeros. */

export const INVALID_TRACE_ID = "00000000000000000000000000000000";
export const INVALID_SPAN_ID = "0000000000000000";

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  let out = "";
  for (const b of buf) out += HEX[b];
  return out;
}

/** A random 128-bit trace id (32 lowercase hex digits, not all zeros). */
export function randomTraceId(): string {
  for (;;) {
    const id = randomHex(16);
    if (id !== INVALID_TRACE_ID) return id;
  }
}

/** A random 64-bit span id (16 lowercase hex digits, not all zeros). */
export function randomSpanId(): string {
  for (;;) {
    const id = randomHex(8);
    if (id !== INVALID_SPAN_ID) return id;
  }
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/** `true` for 32 lowercase hex digits that are not all zeros (W3C Trace Context §3.2.2.3). */
export function isValidTraceId(id: string): boolean {
  return TRACE_ID.test(id) && id !== INVALID_TRACE_ID;
}

/** `true` for 16 lowercase hex digits that are not all zeros (W3C Trace Context §3.2.2.4). */
export function isValidSpanId(id: string): boolean {
  return SPAN_ID.test(id) && id !== INVALID_SPAN_ID;
}
