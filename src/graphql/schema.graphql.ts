/** The service's SDL: the seed's slice plus the contract's additions (never removals). */
export const typeDefs = /* GraphQL */ `
  "RFC 3339 date-time, always UTC with millisecond precision on output."
  scalar DateTime

  "Coherence signal as stored in graph."
  type Signal {
    id: ID!
    type: String!
    value: Float!
    weight: Float
    source: String!
    ts: DateTime!
    cursor: String!
  }

  "Aggregate coherence score per tenant."
  type CoherenceScore {
    tenantId: ID!
    score: Float!
    status: String!
    updatedAt: DateTime!
    signalCount: Int!
  }

  input PublishCoherenceSignalInput {
    tenantId: ID!
    type: String!
    value: Float!
    weight: Float
    source: String!
    ts: DateTime
    signalId: String
  }

  "Requests answered for a tenant on one UTC day, per operation (docs/api.md §4.6)."
  type UsageRequests {
    ingest: Int!
    graphql_query: Int!
    graphql_mutation: Int!
    subscribe: Int!
  }

  "One tenant's usage on one UTC day."
  type UsageDay {
    "YYYY-MM-DD (UTC)"
    date: String!
    requests: UsageRequests!
    signals: Int!
    rejected: Int!
    estimatedCostUsd: Float!
  }

  type TenantUsage {
    tenantId: ID!
    days: [UsageDay!]!
  }

  type Query {
    tenantCoherence(tenantId: ID!): CoherenceScore!
    "FinOps counters (scope finops:read; operator tokens may read any tenant). from/to are YYYY-MM-DD, inclusive."
    tenantUsage(tenantId: ID!, from: String!, to: String!): TenantUsage!
  }

  type Mutation {
    publishCoherenceSignal(input: PublishCoherenceSignalInput!): Boolean!
  }

  type Subscription {
    coherenceEvents(tenantId: ID!, after: String): Signal!
    tenantCoherenceUpdates(tenantId: ID!): CoherenceScore!
  }
`;
