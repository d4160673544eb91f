import { hmacSha256Base64url } from "../auth/hmac";

/**
 * Pseudonyms for log lines: a token's `sub` may be personal data, so logs carry HMAC-SHA256(`LOG_HASH_KEY`, sub)
 * instead — the same subject gives the same pseudonym (requests can be correlated), and without the key it cannot
 * be reversed or confirmed by guessing. 16 bytes, base64url (22 characters).
 */
export function pseudonym(key: string, text: string): Promise<string> {
  return hmacSha256Base64url(key, text, 16);
}
