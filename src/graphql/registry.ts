import { sha256Hex } from "../domain/dedupe-key";
import { buildRegistry, PERSISTED_OPERATIONS, type PersistedRegistry } from "./persisted";

/** The registry's lookup tables, built once per isolate (hashing is async in Web Crypto). */
export const persistedRegistry: Promise<PersistedRegistry> = buildRegistry(PERSISTED_OPERATIONS, sha256Hex);
