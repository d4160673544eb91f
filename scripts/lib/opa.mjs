// OPA for the policy steps: built from the Go module proxy (`go install`) into .cache/ on first use, then reused.
// Plain Node, no dependencies.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { root } from "./env.mjs";

export const OPA_VERSION = "v1.22.3";
const binDir = join(root, ".cache", "opa", OPA_VERSION);
export const opaPath = join(binDir, "opa");

/** Path to the `opa` binary, built with the machine's Go toolchain when it is not cached yet. */
export function ensureOpa() {
  if (existsSync(opaPath)) return opaPath;
  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  if (go.status !== 0) {
    throw new Error("OPA is not cached in .cache/opa and Go is not installed to build it (https://go.dev/dl/)");
  }
  mkdirSync(binDir, { recursive: true });
  process.stderr.write(`building OPA ${OPA_VERSION} from the Go module proxy into ${binDir} (once, ~1-2 min)\n`);
  const started = Date.now();
  const r = spawnSync("go", ["install", `github.com/open-policy-agent/opa@${OPA_VERSION}`], {
    cwd: root,
    env: { ...process.env, GOBIN: binDir, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (r.status !== 0 || !existsSync(opaPath)) throw new Error(`go install of OPA ${OPA_VERSION} failed`);
  process.stderr.write(`OPA built in ${Math.round((Date.now() - started) / 1000)} s\n`);
  return opaPath;
}
