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

  "How one group of the window's signals (one source, or one type) weighs in the score (docs/api.md §5.2)."
  type CoherenceContribution {
    "The group's source or type."
    key: String!
    signalCount: Int!
    "Share of the window's total weight, 0..1."
    weightShare: Float!
    "Weighted mean of the group's own signals."
    weightedMean: Float!
    "weightShare × (weightedMean − score): negative pulls the score down; a kind's pulls add up to 0."
    pull: Float!
  }

  "A tenant's score and why: contributions by source and by type, the ones pulling the score down most first."
  type CoherenceBreakdown {
    tenantId: ID!
    score: Float!
    status: String!
    updatedAt: DateTime!
    signalCount: Int!
    bySource: [CoherenceContribution!]!
    byType: [CoherenceContribution!]!
  }

  "The score as one minute ended (the last point: now)."
  type ScorePoint {
    at: DateTime!
    score: Float!
    status: String!
    signalCount: Int!
  }

  "A tenant's score over time: one point per minute in which it changed, oldest first."
  type CoherenceHistory {
    tenantId: ID!
    points: [ScorePoint!]!
  }

  "One tenant in the operators' overview (docs/api.md §4.12)."
  type TenantOverviewRow {
    tenantId: ID!
    score: Float!
    status: String!
    "Signals in the window."
    signalCount: Int!
    "When its newest signal was accepted; null when none is kept."
    lastSignalAt: DateTime
    "When its score last changed."
    updatedAt: DateTime!
  }

  type StatusCounts {
    CRITICAL: Int!
    WARN: Int!
    HEALTHY: Int!
    UNKNOWN: Int!
  }

  "Every tenant with a score, worst first (CRITICAL, WARN, HEALTHY, UNKNOWN; lower score first), a page at a time."
  type TenantsOverview {
    total: Int!
    byStatus: StatusCounts!
    tenants: [TenantOverviewRow!]!
    "The after of the next page; null on the last."
    next: String
  }

  "One message of the operators' live overview (docs/api.md §4.12.1): a snapshot in pages, then changed rows only."
  type TenantsOverviewUpdate {
    "SNAPSHOT: a page of the full picture (the first page starts it afresh); CHANGES: rows that changed since."
    kind: String!
    "true on a snapshot's last page and on every CHANGES message: the client's picture is whole after it."
    complete: Boolean!
    "The server's time of this message."
    asOf: DateTime!
    total: Int!
    byStatus: StatusCounts!
    "Worst first within the message; a client merges rows by tenantId and orders them itself (status, score, id)."
    tenants: [TenantOverviewRow!]!
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

  "One billable unit's count (finops/prices.json; docs/api.md §4.6)."
  type UsageUnit {
    name: String!
    value: Float!
  }

  "One tenant's usage over the overview's range."
  type FinopsTenant {
    tenantId: ID!
    requests: UsageRequests!
    signals: Int!
    rejected: Int!
    units: [UsageUnit!]!
    estimatedCostUsd: Float!
  }

  "Every tenant's usage summed, plus the environment's fixed cost (stores' hourly figures)."
  type FinopsTotals {
    tenants: Int!
    requests: UsageRequests!
    signals: Int!
    rejected: Int!
    units: [UsageUnit!]!
    estimatedCostUsd: Float!
    fixedCostUsd: Float!
    totalCostUsd: Float!
  }

  type FinopsOverview {
    from: String!
    to: String!
    tenants: [FinopsTenant!]!
    totals: FinopsTotals!
    nextCursor: String
  }

  type Query {
    tenantCoherence(tenantId: ID!): CoherenceScore!
    "Why the score is what it is, from the tenant's object (whatever the read mode)."
    tenantCoherenceBreakdown(tenantId: ID!): CoherenceBreakdown!
    "The score's last minutes (1..1440, default 1440 = the window's 24 h), from the tenant's object."
    tenantCoherenceHistory(tenantId: ID!, minutes: Int): CoherenceHistory!
    "Operators only (tenant *, scope coherence:read): every tenant's status, worst first. first: 1..1000 (default 100)."
    tenantsOverview(first: Int, after: String): TenantsOverview!
    "FinOps counters (scope finops:read; operator tokens may read any tenant). from/to are YYYY-MM-DD, inclusive."
    tenantUsage(tenantId: ID!, from: String!, to: String!): TenantUsage!
    "FinOps, operators only (tenant *, finops:read): every tenant's usage, most expensive first. first: 1..500 (default 50)."
    finopsOverview(from: String!, to: String!, first: Int, after: String): FinopsOverview!
  }

  type Mutation {
    publishCoherenceSignal(input: PublishCoherenceSignalInput!): Boolean!
  }

  type Subscription {
    coherenceEvents(tenantId: ID!, after: String): Signal!
    tenantCoherenceUpdates(tenantId: ID!): CoherenceScore!
    "The breakdown at subscribe time, then after every change of the score (coalesced like the others)."
    tenantCoherenceBreakdownUpdates(tenantId: ID!): CoherenceBreakdown!
    "Operators only (tenant *, coherence:read), on /v1/tenants/*/graphql: every tenant, live, changes coalesced."
    tenantsOverviewUpdates: TenantsOverviewUpdate!
  }
`;
