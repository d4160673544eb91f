// Holds the code to its layering (README, "Layout"): each file belongs to one layer and imports only from its own
// layer or the ones below it —
//   domain ← shared ← adapters ← objects ← edge
// domain: pure rules (no I/O, no settings); shared: settings, errors, telemetry, metrics, auth, protocol and
// message formats; adapters: the stores' clients; objects: the Durable Objects; edge: the Worker's handlers
// (HTTP, GraphQL, queue consumers, the tenant client). A new file must be placed in the table below.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..", "..");

const LAYERS = ["domain", "shared", "adapters", "objects", "edge"] as const;
type Layer = (typeof LAYERS)[number];

/** Path prefixes (relative to the repository) → layer; the longest matching prefix wins. */
const PLACEMENT: Array<[string, Layer]> = [
  ["src/domain/", "domain"],
  ["src/config.ts", "shared"],
  ["src/errors.ts", "shared"],
  ["src/residency.ts", "shared"],
  ["src/wasm.d.ts", "shared"],
  ["src/env.d.ts", "shared"],
  ["src/telemetry/", "shared"],
  ["src/metrics/", "shared"],
  ["src/auth/", "shared"],
  ["src/realtime/", "shared"],
  ["src/finops/", "shared"],
  ["src/queues/messages.ts", "shared"],
  ["src/graphql/persisted.ts", "shared"],
  ["src/graphql/registry.ts", "shared"],
  ["src/graphql/schema.graphql.ts", "shared"],
  ["src/ports.ts", "adapters"],
  ["src/adapters/", "adapters"],
  ["durable-objects/", "objects"],
  ["src/index.ts", "edge"],
  ["src/tenant-client.ts", "edge"],
  ["src/switches.ts", "edge"],
  ["src/http/", "edge"],
  ["src/graphql/", "edge"],
  ["src/queues/", "edge"],
  ["src/finops/report.ts", "edge"],
];

function layerOf(file: string): Layer | null {
  let best: [string, Layer] | null = null;
  for (const entry of PLACEMENT) {
    if (file.startsWith(entry[0]) && (!best || entry[0].length > best[0].length)) best = entry;
  }
  return best?.[1] ?? null;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(name) ? [path] : [];
  });
}

/** Relative imports of a file (static, dynamic and re-exports), resolved to repository paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  const specs = [...text.matchAll(/(?:from\s*|import\s*\(\s*|import\s+)["'](\.{1,2}\/[^"']+)["']/g)].map(
    (m) => m[1] as string,
  );
  return specs.map((spec) => {
    const target = relative(root, resolve(root, dirname(file), spec));
    if (/\.(ts|wasm|json)$/.test(target)) return target;
    return `${target}.ts`;
  });
}

const files = [...sourceFiles("src"), ...sourceFiles("durable-objects")];

describe("import direction", () => {
  it("places every source file in a layer", () => {
    expect(files.filter((f) => layerOf(f) === null)).toEqual([]);
  });

  it("imports only from the file's own layer or a lower one", () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = layerOf(file) as Layer;
      for (const target of importsOf(file)) {
        if (!target.startsWith("src/") && !target.startsWith("durable-objects/")) continue; // data, policy wasm
        const to = layerOf(target);
        if (to === null || LAYERS.indexOf(to) > LAYERS.indexOf(from)) {
          wrong.push(`${file} (${from}) → ${target} (${to ?? "unplaced"})`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it("sees the imports it judges (the check would catch a wrong one)", () => {
    expect(importsOf("src/http/app.ts")).toContain("src/errors.ts");
    expect(layerOf("src/http/app.ts")).toBe("edge");
    expect(layerOf("src/domain/score.ts")).toBe("domain");
  });
});
