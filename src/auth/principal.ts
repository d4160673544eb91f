/**
 * The verified caller: a tenant id, or `*` for operator tokens, and its scopes. What a principal may do is
 * decided by the OPA policy (policy/authz.rego via src/auth/authz.ts), nowhere else.
 */
export interface Principal {
  tenant: string;
  scopes: ReadonlySet<string>;
  /** Pseudonym of the token's `sub` (src/telemetry/pseudonym.ts) for logs; the `sub` itself is never kept. */
  subjectHash: string | null;
}
