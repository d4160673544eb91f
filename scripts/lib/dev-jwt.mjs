// The dev signing key pair (ES256), created on first use under .dev/ (gitignored) and shared by
// `npm start` (which gives the Worker the public half) and `npm run token` (which signs with the private half).
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./env.mjs";

const dir = join(root, ".dev");
const keyPath = join(dir, "dev-jwt-key.json");

/** Returns `{ privatePem, publicPem, kid }`, creating the pair atomically if absent. */
export async function devKeys() {
  if (!existsSync(keyPath)) {
    const { exportPKCS8, exportSPKI, generateKeyPair } = await import("jose");
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const pair = {
      privatePem: await exportPKCS8(privateKey),
      publicPem: await exportSPKI(publicKey),
      kid: `dev-${Date.now().toString(36)}`,
    };
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${keyPath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(pair), { mode: 0o600 });
    try {
      linkSync(tmp, keyPath); // atomic: fails if another process created the pair first
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== "EEXIST") throw err;
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return JSON.parse(readFileSync(keyPath, "utf8"));
}
