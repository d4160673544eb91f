/**
 * HMAC-SHA256 of `text` under `key`, base64url, its first `bytes` bytes (all 32 by default): the MAC of realtime
 * tickets (src/auth/ticket.ts) and the log pseudonym of a token's `sub` (src/telemetry/pseudonym.ts).
 */
export async function hmacSha256Base64url(key: string, text: string, bytes = 32): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(key), new TextEncoder().encode(text));
  return base64url(new Uint8Array(mac, 0, bytes));
}

/** Imported keys, shared only once settled (a pending import is never handed to another request). */
const imported = new Map<string, CryptoKey>();

async function hmacKey(key: string): Promise<CryptoKey> {
  const hit = imported.get(key);
  if (hit) return hit;
  const made = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  imported.set(key, made);
  return made;
}

export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
