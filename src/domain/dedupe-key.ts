const encoder = new TextEncoder();

/** Lower-case hex SHA-256 of a string or bytes (Web Crypto: same in Workers and Node). */
export async function sha256Hex(input: string | Uint8Array<ArrayBuffer>): Promise<string> {
  const bytes = typeof input === "string" ? encoder.encode(input) : input;
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  let out = "";
  for (const b of new Uint8Array(digest)) out += b.toString(16).padStart(2, "0");
  return out;
}

/** The fields a server-derived signal id is computed from (docs/api.md §4.3). */
export interface DerivableSignal {
  type: string;
  value: number;
  weight: number;
  source: string;
  tsIso: string;
}

/**
 * Derives a signal id from `(type, value, weight, source, ts)` so that a retry carrying the same `ts`
 * maps to the same id. Inputs are the normalized forms (weight defaulted, ts canonical UTC), so
 * `1` and `1.0`, or `Z` and `+00:00`, derive the same id. The `d-` prefix marks derived ids.
 */
export async function deriveSignalId(s: DerivableSignal): Promise<string> {
  const canonical = JSON.stringify([s.type, s.value, s.weight, s.source, s.tsIso]);
  return `d-${await sha256Hex(canonical)}`;
}

/**
 * The dedupe key inside a tenant: `(source, signalId, ts)`; the tenant is implied by the Durable Object.
 * Encoded as a JSON array so no choice of characters in `source` or `signalId` can make two keys collide.
 */
export function dedupeKey(source: string, signalId: string, tsIso: string): string {
  return JSON.stringify([source, signalId, tsIso]);
}
