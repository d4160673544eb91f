/**
 * Policy tags recorded with every accepted request's provenance and sent with its signals to the graph
 * (docs/api.md §7): why the data is held, for how long, under which licence, and where it must rest.
 */
export interface PolicyTags {
  purpose: string;
  retention: string;
  license: string;
  residency: string;
}
