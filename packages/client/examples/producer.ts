// A producer: publishes signals one at a time (the client batches them), then reads the score back.
//
//   npm start &                       # the service on http://127.0.0.1:8787, its dev OpenID Provider on :8788
//   OAUTH_ISSUER=http://127.0.0.1:8788 OAUTH_CLIENT_ID=acme-producer OAUTH_CLIENT_SECRET=acme-producer-secret \
//     npm run example:producer -- --tenant acme --count 2000
//
// Or with a token: COHERENCE_TOKEN=$(npm run token -- --tenant acme --scope "coherence:read coherence:write").
// OAUTH_SCOPE and OAUTH_RESOURCE are passed on if your authorization server wants them (examples/auth.ts).
import { parseArgs } from "node:util";
import { CoherenceError, createCoherenceClient } from "@coherence/client";
import { auth } from "./auth.ts";

const { values: args } = parseArgs({
  options: {
    tenant: { type: "string", default: "acme" },
    count: { type: "string", default: "1000" },
    url: { type: "string", default: process.env.COHERENCE_URL ?? "http://127.0.0.1:8787" },
  },
});
const tenantId = args.tenant;
const count = Number(args.count);

const client = createCoherenceClient({ url: args.url, ...auth() });
const sources = ["api-gateway", "checkout", "search"];
const started = performance.now();
let accepted = 0;
let duplicates = 0;
let refused = 0;
for (let i = 0; i < count; i++) {
  const source = sources[i % sources.length]!;
  // Not awaited one by one, so the client can batch them; room() holds this loop back while the queue is full (a slow
  // or unreachable service), so memory stays bounded.
  await client.room();
  client.publish({ tenantId, type: "latency", source, value: Math.round(Math.random() * 100) / 100 }).then(
    (result) => {
      if (result.status === "accepted") accepted++;
      else duplicates++;
    },
    (err: unknown) => {
      refused++;
      if (refused <= 3) console.error(err instanceof CoherenceError ? `${err.code}: ${err.message}` : err);
    },
  );
}
await client.flush();
await client.close();
const seconds = (performance.now() - started) / 1000;
const stats = client.stats();
console.log(
  `published ${accepted} signals (${duplicates} duplicates, ${refused} refused) in ${seconds.toFixed(2)} s: ${stats.requests} requests, ${stats.retries} retries`,
);
const score = await client.score(tenantId);
console.log(`${tenantId}: score ${score.score} ${score.status} over ${score.signalCount} signals`);
