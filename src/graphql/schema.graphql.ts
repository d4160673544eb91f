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

  type Query {
    tenantCoherence(tenantId: ID!): CoherenceScore!
  }

  type Mutation {
    publishCoherenceSignal(input: PublishCoherenceSignalInput!): Boolean!
  }

  type Subscription {
    coherenceEvents(tenantId: ID!, after: String): Signal!
    tenantCoherenceUpdates(tenantId: ID!): CoherenceScore!
  }
`;
