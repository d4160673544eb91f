// Which bearer token the bridge sends for a tenant. The service accepts a write only when the token's tenant is the
// signals' tenant (docs/api.md §2, §4.3), and operator tokens (`*`) never write, so a multi-tenant topic needs a token per
// tenant: INGEST_TOKENS_FILE maps tenant ids to tokens and is re-read when it changes (rotation without a restart);
// INGEST_TOKEN is used for every tenant the file does not name.
import { readFileSync, statSync } from "node:fs";
import { z } from "zod";

const tokenMap = z.record(z.string().min(1), z.string().min(1));

export interface TokenSource {
  /** The token for `tenantId`, or null when none is configured for it. */
  forTenant(tenantId: string): string | null;
}

/** Checks the file's modification time at most this often. */
const RECHECK_MS = 1000;

/**
 * Tokens from INGEST_TOKEN and/or INGEST_TOKENS_FILE (a JSON object `{"<tenantId>": "<jwt>", …}`). A file that
 * cannot be read or parsed keeps the last good map and reports the problem through `onError`.
 */
export function tokenSource(opts: {
  token?: string | undefined;
  file?: string | undefined;
  onError?: (message: string) => void;
  now?: () => number;
}): TokenSource {
  const now = opts.now ?? Date.now;
  let map = new Map<string, string>();
  let mtimeMs = -1;
  let checkedAt = Number.NEGATIVE_INFINITY;
  const reload = (): void => {
    if (!opts.file) return;
    const at = now();
    if (at - checkedAt < RECHECK_MS) return;
    checkedAt = at;
    try {
      const stat = statSync(opts.file);
      if (stat.mtimeMs === mtimeMs) return;
      // Remembered before parsing, so a broken file is reported once, not every second, until it changes.
      mtimeMs = stat.mtimeMs;
      const text = readFileSync(opts.file, "utf8");
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        // Not the parser's message: it quotes the text around the fault, which may be a token.
        opts.onError?.("INGEST_TOKENS_FILE is not valid JSON");
        return;
      }
      const parsed = tokenMap.safeParse(raw);
      if (!parsed.success) {
        opts.onError?.("INGEST_TOKENS_FILE must be a JSON object of tenant id → token");
        return;
      }
      map = new Map(Object.entries(parsed.data));
    } catch (err) {
      opts.onError?.(`cannot read INGEST_TOKENS_FILE: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  reload();
  return {
    forTenant(tenantId) {
      reload();
      return map.get(tenantId) ?? opts.token ?? null;
    },
  };
}

const oauthFile = z.record(
  z.string().min(1),
  z.object({ clientId: z.string().min(1), clientSecret: z.string().min(1) }),
);

/**
 * The OAuth clients of INGEST_OAUTH_CLIENTS_FILE (`{"<tenantId>": {"clientId": "…", "clientSecret": "…"}, …}`): one
 * machine client per tenant, since a token carries one tenant. Read once at start; throws (without quoting the file,
 * which holds secrets) when it cannot be read or has another shape.
 */
export function oauthClients(file: string): Map<string, { clientId: string; clientSecret: string }> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    const why = err instanceof SyntaxError ? "is not valid JSON" : `cannot be read (${(err as Error).message})`;
    throw new Error(`INGEST_OAUTH_CLIENTS_FILE ${why}`);
  }
  const parsed = oauthFile.safeParse(raw);
  if (!parsed.success) {
    throw new Error('INGEST_OAUTH_CLIENTS_FILE must map tenant ids to {"clientId": …, "clientSecret": …}');
  }
  return new Map(Object.entries(parsed.data));
}
