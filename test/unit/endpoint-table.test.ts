// Keeps test/security/endpoints.ts complete: every route of the Hono app, every persisted operation, every
// static asset and every path literal in the HTTP layer must be in the table, which the isolation matrix
// (test/e2e/isolation-matrix.test.ts) then runs against every bad-token variant.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { app } from "../../src/http/app";
import {
  ENDPOINTS,
  type Entry,
  matrixTargets,
  OPERATIONS,
  REGISTRY,
  SCOPES,
  uncoveredRoutes,
} from "../security/endpoints";

const root = resolve(import.meta.dirname, "..", "..");

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

const workerEntries = ENDPOINTS.filter((e) => e.served === "worker");

/** `true` when the table lists `path` itself, or a `…/*` prefix row covers it. */
function listedPath(path: string): boolean {
  return ENDPOINTS.some((e) => e.path === path || (e.path.endsWith("*") && path.startsWith(e.path.slice(0, -1))));
}

/** Quoted absolute paths in source text that the table does not list; prefixes ending in `/` are not routes. */
function unlistedPaths(text: string): string[] {
  return [...text.matchAll(/["'`](\/[a-z][A-Za-z0-9_:./-]*)["'`]/g)]
    .map((m) => m[1] as string)
    .filter((p) => !p.endsWith("/") && !listedPath(p));
}
const describeEntry = (e: Entry) => `${e.method} ${e.path}`;

describe("the endpoint table covers the Worker", () => {
  it("lists every route of the Hono app (method and path)", () => {
    const routes = app.routes.map((r) => ({ method: r.method, path: r.path }));
    expect(routes.length).toBeGreaterThan(0);
    expect(uncoveredRoutes(routes), "routes missing from test/security/endpoints.ts").toEqual([]);
  });

  it("lists no worker route the app does not have (a stale row hides a renamed route)", () => {
    const served = new Set(app.routes.map((r) => `${r.method} ${r.path}`));
    // A row may name a route with a query that selects another audience (`/v1/finops/usage?tenantId=*`).
    const route = (e: Entry) => describeEntry({ ...e, path: e.path.split("?")[0] ?? e.path });
    expect(workerEntries.map(route).filter((k) => !served.has(k))).toEqual([]);
  });

  it("fails for a route added later until it is listed", () => {
    const handler = () => new Response("");
    const later = new Hono().route("/", app).get("/v1/finops/export", handler).post("/metrics", handler);
    expect(uncoveredRoutes(later.routes).map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /v1/finops/export",
      "POST /metrics",
    ]);
    // Middleware is not a route; a catch-all route on a concrete path is.
    expect(uncoveredRoutes([{ method: "ALL", path: "/*" }])).toEqual([]);
    expect(uncoveredRoutes([{ method: "ALL", path: "/metrics" }])).toEqual([{ method: "ALL", path: "/metrics" }]);
  });

  it("lists every path literal of the HTTP layer and the entry module (routes outside the router count too)", () => {
    const sources = [join(root, "src", "index.ts"), ...filesUnder(join(root, "src", "http"))].filter((f) =>
      f.endsWith(".ts"),
    );
    const unknown = sources.flatMap((file) =>
      unlistedPaths(readFileSync(file, "utf8")).map((p) => `${relative(root, file)}: ${p}`),
    );
    expect(unknown, "paths in the source that test/security/endpoints.ts does not list").toEqual([]);
    // The scan sees a route answered outside the router, e.g. in the entry module's fetch.
    expect(unlistedPaths('if (url.pathname === "/metrics") return metrics(env);')).toEqual(
      listedPath("/metrics") ? [] : ["/metrics"],
    );
  });

  it("lists every file of the bundled static files under a public row with a reason", () => {
    const assets = ENDPOINTS.filter((e) => e.served === "files");
    const publicFiles = filesUnder(join(root, "public")).map((f) => `/${relative(join(root, "public"), f)}`);
    const uncovered = publicFiles.filter(
      (f) => !assets.some((e) => e.path.endsWith("*") && f.startsWith(e.path.slice(0, -1))),
    );
    expect(uncovered, "asset files no public row covers").toEqual([]);
    for (const e of assets) {
      expect(e.access.kind, describeEntry(e)).toBe("public");
      expect("dir" in e && e.dir ? statSync(join(root, e.dir)).isDirectory() : false, describeEntry(e)).toBe(true);
    }
  });

  it("gives every public row a reason, and every other row a scope or per-operation scopes", () => {
    for (const e of ENDPOINTS) {
      if (e.access.kind === "public") expect(e.access.reason.length, describeEntry(e)).toBeGreaterThan(10);
      else if (e.access.kind !== "per-operation") expect(SCOPES, describeEntry(e)).toContain(e.access.scope);
    }
  });
});

describe("the endpoint table covers the persisted operations", () => {
  it("lists every operation of .maestro/persisted-queries.json, and only those", () => {
    expect(OPERATIONS.map((o) => o.id).sort()).toEqual(Object.keys(REGISTRY).sort());
  });

  it("gives each operation the kind its text declares", () => {
    for (const op of OPERATIONS) {
      expect(REGISTRY[op.id]?.trimStart().split(/[\s({]/)[0], op.id).toBe(op.kind);
    }
  });

  it("runs every operation through at least one route of the table", () => {
    const carried = ENDPOINTS.flatMap((e) => ("carries" in e ? e.carries : []));
    for (const op of OPERATIONS) expect(carried, op.id).toContain(op.kind);
  });
});

describe("the isolation matrix is generated from the table", () => {
  it("has a row for every guarded route and every operation on every route that carries it", () => {
    const names = matrixTargets().map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "POST /v1/coherence/signals",
        "GET /v1/ops/dlq",
        "POST /v1/ops/dlq/replay",
        "POST /graphql pq_tenant_coherence_v1",
        "POST /graphql pq_publish_signal_v1",
        "GET /graphql pq_tenant_coherence_full_v1",
        "WS /v1/tenants/:tenantId/graphql pq_coherence_events_v1",
        "WS /v1/tenants/:tenantId/graphql pq_tenant_coherence_updates_v1",
      ]),
    );
    const guarded = ENDPOINTS.filter((e) => e.access.kind !== "public");
    for (const e of guarded) {
      expect(
        names.some((n) => n.includes(e.path)),
        describeEntry(e),
      ).toBe(true);
    }
    expect(new Set(names).size).toBe(names.length);
  });
});
