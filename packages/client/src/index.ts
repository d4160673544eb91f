// @coherence/client: the coherence service's producer and reader SDK (ESM; Workers, browsers, Node 20+).
export { DEFAULT_RETRY, type RetryPolicy } from "./backoff.ts";
export {
  CoherenceClient,
  type CoherenceClientOptions,
  createCoherenceClient,
  type Score,
  type TenantUsage,
} from "./client.ts";
export {
  type ClientErrorCode,
  CoherenceError,
  type CoherenceErrorCode,
  type ErrorDetail,
  type ServiceErrorCode,
} from "./errors.ts";
export { PERSISTED_OPERATIONS, type PersistedOperationTypes } from "./generated/operations.ts";
export {
  DEFAULT_PUBLISHER,
  type IngestRequestInfo,
  type PublisherOptions,
  type PublishResult,
  type RequestOutcome,
  type Signal,
} from "./publisher.ts";
export type {
  CoherenceEvent,
  LiveSubscription,
  ScoreUpdate,
  SubscribeHandlers,
  SubscribeOptions,
} from "./subscribe.ts";
export {
  type ClientCredentialsOptions,
  clientCredentials,
  type GetToken,
  perTenant,
  type TokenOption,
  type TokenProvider,
  type TokenRequest,
} from "./tokens.ts";
