// What the operator scripts (`npm run ops`, `npm run dlq:replay`, `npm run provenance:verify`) share: the running
// service's address and a token — the one given, else a dev token minted as `npm run token` does.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { root } from "./env.mjs";

/** COHERENCE_URL, else the local service (`npm start`, PORT or 8787), without a trailing slash. */
export function serviceBase() {
  return (process.env.COHERENCE_URL ?? `http://127.0.0.1:${process.env.PORT ?? "8787"}`).replace(/\/+$/, "");
}

/**
 * `given` if set (a token from the environment), else a dev token for `tenant` with `scope`.
 * @param {string | undefined} given
 * @param {string} tenant
 * @param {string} scope
 * @returns {string}
 */
export function tokenOrDev(given, tenant, scope) {
  if (given) return given;
  return execFileSync(process.execPath, [join(root, "scripts", "token.mjs"), "--tenant", tenant, "--scope", scope], {
    encoding: "utf8",
  }).trim();
}
