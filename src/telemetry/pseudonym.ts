/**
 * Pseudonyms for log lines: a token's `sub` may be personal data, so logs carry HMAC-SHA256(`LOG_HASH_KEY`, sub)
 * instead — the same subject gives the same pseudonym (requests can be correlated), and without the key it cannot
 * be reversed or confirmed by guessing. 16 bytes, base64url (22 characters).
 */
export async function pseudonym(key: string, text: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(key), new TextEncoder().encode(text));
  return base64url(new Uint8Array(mac, 0, 16));
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

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
