// Debian's Chromium for the browser tests. The machine has no browser until the project installs one, and a test
// tool's own browser download cannot work here (no internet beyond package registries), so the browser comes
// from apt. Plain Node (no dependencies); everything it prints goes to stderr.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Where Debian's `chromium` package puts the browser; playwright-core is pointed at it (`executablePath`). */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Debian's flags for a headless Chromium on a machine without internet (see the env doc): tests and benches. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** @param {string[]} args */
function apt(args) {
  process.stderr.write(`[chromium] apt-get ${args.join(" ")}\n`);
  const result = spawnSync("apt-get", args, {
    stdio: ["ignore", process.stderr, process.stderr],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (result.error) throw new Error(`[chromium] could not run apt-get: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(
      `[chromium] apt-get ${args[0]} failed (exit ${result.status}); install Debian's chromium by hand: ` +
        "apt-get update && apt-get install -y --no-install-recommends chromium",
    );
  }
}

/**
 * Makes sure Debian's Chromium is installed at {@link CHROMIUM_PATH}, installing it with apt-get when it is
 * missing (needs root, as on the project's machines and CI). Returns the executable's path; throws with a
 * clear message when the install fails.
 */
export function ensureChromium() {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  process.stderr.write(`[chromium] ${CHROMIUM_PATH} is missing; installing Debian's chromium (a minute or two)…\n`);
  apt(["update"]);
  apt(["install", "-y", "--no-install-recommends", "chromium"]);
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`[chromium] apt-get installed chromium but ${CHROMIUM_PATH} is still missing`);
  }
  process.stderr.write("[chromium] installed\n");
  return CHROMIUM_PATH;
}
