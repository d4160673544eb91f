// Residency by construction: Durable Objects are addressed only in src/residency.ts (pinned to the US
// jurisdiction), and every object binding in wrangler.toml is one that function pins. The workerd test
// test/integration/residency.test.ts drives each binding through it.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..", "..");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith(".ts") ? [full] : [];
  });
}

/**
 * The object bindings the Worker has, all pinned: every one but OPS_SWITCHES (switch values and their audit, no
 * tenant data) holds tenant data, and that one is pinned too, so no binding is addressed another way.
 */
const PINNED_BINDINGS = ["TENANT", "DEAD_LETTERS", "METRICS", "OPS_SWITCHES", "TENANT_DIRECTORY"];

describe("residency", () => {
  it("addresses Durable Objects only through src/residency.ts", () => {
    const offenders = [...sourceFiles(join(root, "src")), ...sourceFiles(join(root, "durable-objects"))]
      .map((f) => relative(root, f))
      .filter((f) => f !== "src/residency.ts")
      .filter((f) =>
        /\.(idFromName|idFromString|newUniqueId|jurisdiction)\(/.test(readFileSync(join(root, f), "utf8")),
      );
    expect(offenders).toEqual([]);
  });

  it("knows every object binding in wrangler.toml", () => {
    const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
    const bindings = [...toml.matchAll(/\[\[durable_objects\.bindings\]\]\s*\nname\s*=\s*"([^"]+)"/g)].map((m) => m[1]);
    expect(bindings.length).toBeGreaterThan(0);
    expect(bindings.sort()).toEqual([...PINNED_BINDINGS].sort());
  });
});
