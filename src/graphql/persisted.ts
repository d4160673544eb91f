import registryFile from "../../.maestro/persisted-queries.json";

/**
 * The persisted-operation registry (docs/api.md §4.4), byte for byte, from `.maestro/persisted-queries.json`
 * (the file clients and CI read too). Each operation is reachable by its name and by the sha256 hex of its
 * exact text; a `query` identical to a registered text counts as it.
 */
export const PERSISTED_OPERATIONS: Readonly<Record<string, string>> = registryFile;

/** Lookup tables over the registry: by name, by sha256 hex, and by exact text. */
export interface PersistedRegistry {
  byKey: ReadonlyMap<string, string>;
  nameByText: ReadonlyMap<string, string>;
}

/** Builds the registry's lookup tables; `hash` is sha256 hex (async in Web Crypto). */
export async function buildRegistry(
  operations: Readonly<Record<string, string>>,
  hash: (text: string) => Promise<string>,
): Promise<PersistedRegistry> {
  const byKey = new Map<string, string>();
  const nameByText = new Map<string, string>();
  for (const [name, text] of Object.entries(operations)) {
    byKey.set(name, text);
    byKey.set(await hash(text), text);
    nameByText.set(text, name);
  }
  return { byKey, nameByText };
}

/** Request parameters that may name a persisted operation. */
export interface OperationRef {
  query?: unknown;
  id?: unknown;
  documentId?: unknown;
  extensions?: unknown;
}

/** The persisted-operation key a request names (`id`, `documentId`, or APQ `sha256Hash`), or `null`. */
export function operationKey(params: OperationRef): string | null {
  if (typeof params.id === "string") return params.id;
  if (typeof params.documentId === "string") return params.documentId;
  const ext = params.extensions;
  if (ext !== null && typeof ext === "object" && "persistedQuery" in ext) {
    const pq = (ext as { persistedQuery: unknown }).persistedQuery;
    if (pq !== null && typeof pq === "object" && "sha256Hash" in pq) {
      const hash = (pq as { sha256Hash: unknown }).sha256Hash;
      if (typeof hash === "string") return hash;
    }
  }
  return null;
}

/**
 * Rewrites request parameters so the persisted-operations plugin sees one form: a key wins over `query`
 * (clients may send both), and a `query` byte-identical to a registered text becomes that operation's name.
 * Any other `query` is left alone, to be refused (or allowed as ad-hoc) by the plugin.
 */
export function normalizeOperationParams<T extends OperationRef>(params: T, registry: PersistedRegistry): T {
  const key = operationKey(params);
  if (key !== null) return { ...params, query: undefined };
  if (typeof params.query === "string") {
    const name = registry.nameByText.get(params.query);
    if (name !== undefined) return { ...params, query: undefined, documentId: name };
  }
  return params;
}

/** The name of the registered operation a request names (by key or by its exact text), or `null`. */
export function persistedOperationName(params: OperationRef, registry: PersistedRegistry): string | null {
  const key = operationKey(normalizeOperationParams(params, registry));
  const text = key === null ? undefined : registry.byKey.get(key);
  return text === undefined ? null : (registry.nameByText.get(text) ?? null);
}
