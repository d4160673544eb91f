import { app } from "./http/app";

export { TenantObject } from "../durable-objects/tenant";

/** The Worker: HTTP through the Hono app. Queue consumers and scheduled jobs join with the sinks. */
export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
