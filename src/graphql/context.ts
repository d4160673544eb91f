import type { RequestContext } from "../http/context";

/** What every resolver receives besides yoga's own fields: the request's state, and its body. */
export interface GraphQLServerContext extends RequestContext {
  /** POST: the JSON body the route parsed (yoga does not read the body again). Absent for GET. */
  parsedBody?: unknown;
  /** The raw body (empty for GET); mutations record its sha256 as the provenance request hash. */
  body: Uint8Array<ArrayBuffer>;
  receivedAtMs: number;
}
