import type { Attributes, Span } from "./span";
import type { TraceScope } from "./tracer";

/** Database systems this service writes (`db.system.name` values of the OpenTelemetry conventions). */
export type DbSystem = "neo4j" | "postgresql";

/**
 * Attributes of a database client span: the current `db.system.name` and the older `db.system` (many backends
 * still index that one), the database, the operation, and the server's host and port. Built from the URL's host
 * only, so credentials in a connection string never reach a span.
 */
export function dbAttributes(system: DbSystem, url: string, database: string | null, operation: string): Attributes {
  let host: string | undefined;
  let port: number | undefined;
  try {
    const u = new URL(url);
    host = u.hostname || undefined;
    port = u.port ? Number(u.port) : undefined;
  } catch {
    // Not a URL: leave the server attributes out rather than risk echoing a connection string.
  }
  return {
    "db.system.name": system,
    "db.system": system,
    "db.namespace": database ?? undefined,
    "db.operation.name": operation,
    "server.address": host,
    "server.port": port,
  };
}

/** The database name of a Postgres connection string (its path), or `null`. */
export function postgresDatabase(connectionString: string): string | null {
  try {
    const name = decodeURIComponent(new URL(connectionString).pathname.replace(/^\//, ""));
    return name || null;
  } catch {
    return null;
  }
}

/**
 * Runs one call to a database inside a client span (`neo4j.query`, `postgres.upsert` …) under `scope`; without
 * a scope, or with tracing off, just runs it. A thrown error is recorded on the span and rethrown.
 */
export function withClientSpan<T>(
  scope: TraceScope | undefined,
  name: string,
  attributes: Attributes,
  fn: (span: Span | null) => Promise<T>,
): Promise<T> {
  if (!scope?.tracer.enabled) return fn(null);
  return scope.tracer.withSpan(name, { kind: "client", parent: scope.span, attributes }, fn);
}
