// wrangler.toml's deployed environments (issue 15; docs/deploy.md): each builds with `wrangler deploy --dry-run
// --env …` (bundled and checked, nothing uploaded), binds every object and queue the top level binds — with its
// own queues — and says which environment it is. Bindings are read from wrangler's own report of the build.
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..", "..");
const run = promisify(execFile);

interface Binding {
  name: string;
  resource: string;
  detail: string;
}

/** The bindings `wrangler deploy --dry-run` reports for an environment (`null`: the top level). */
async function dryRun(env: string | null): Promise<Binding[]> {
  const args = [
    join(root, "scripts", "wrangler.mjs"),
    "deploy",
    "--dry-run",
    "--outdir",
    join(root, ".tmp", `dry-${env ?? "top"}`),
  ];
  if (env) args.push("--env", env);
  const { stdout } = await run(join(root, "node_modules", ".bin", "node"), args, { cwd: root, maxBuffer: 10 << 20 });
  expect(stdout).toContain("--dry-run: exiting now.");
  const out: Binding[] = [];
  for (const line of stdout.split("\n")) {
    const m = /^env\.([A-Z0-9_]+)(?: \((.*?)\))?\s{2,}(.+?)\s*$/.exec(line);
    if (m) out.push({ name: m[1] as string, detail: m[2] ?? "", resource: m[3] as string });
  }
  return out;
}

describe("deployed environments in wrangler.toml", () => {
  it("staging and production each bind every object and queue of the top level, with their own queues", async () => {
    const top = await dryRun(null);
    const kinds = (bs: Binding[], resource: string) =>
      bs
        .filter((b) => b.resource === resource)
        .map((b) => b.name)
        .sort();
    expect(kinds(top, "Durable Object").length).toBeGreaterThanOrEqual(3);
    const queues = new Set<string>();
    for (const env of ["staging", "production"]) {
      const bs = await dryRun(env);
      expect(kinds(bs, "Durable Object"), env).toEqual(kinds(top, "Durable Object"));
      expect(
        bs.filter((b) => b.resource === "Durable Object").map((b) => b.detail),
        env,
      ).toEqual(top.filter((b) => b.resource === "Durable Object").map((b) => b.detail));
      expect(kinds(bs, "Queue"), env).toEqual(kinds(top, "Queue"));
      for (const q of bs.filter((b) => b.resource === "Queue")) {
        expect(q.detail, env).toMatch(new RegExp(`-${env}$`));
        queues.add(q.detail);
      }
      expect(bs.find((b) => b.name === "ENVIRONMENT")?.detail, env).toBe(`"${env}"`);
      expect(
        bs.some((b) => b.name === "CF_VERSION_METADATA"),
        `${env}: version metadata for canary:check`,
      ).toBe(true);
      // Dev-only settings are never deployed.
      expect(
        bs.filter((b) => /^DEV_|^DEBUG_/.test(b.name)).map((b) => b.name),
        env,
      ).toEqual([]);
    }
    expect(queues.size).toBe(2 * kinds(top, "Queue").length);
  }, 180_000);
});
