// A watcher: prints a tenant's signals and score as they happen. The subscription reconnects by itself and resumes
// after the last cursor it printed; pass that cursor with --after to resume a previous run.
//
//   OAUTH_ISSUER=http://127.0.0.1:8788 OAUTH_CLIENT_ID=acme-producer OAUTH_CLIENT_SECRET=acme-producer-secret \
//     npm run example:watch -- --tenant acme
//
// Or with a token: COHERENCE_TOKEN=$(npm run token -- --tenant acme --scope coherence:read) (examples/auth.ts).
import { parseArgs } from "node:util";
import { createCoherenceClient } from "@coherence/client";
import { auth } from "./auth.ts";

const { values: args } = parseArgs({
  options: {
    tenant: { type: "string", default: "acme" },
    after: { type: "string" },
    url: { type: "string", default: process.env.COHERENCE_URL ?? "http://127.0.0.1:8787" },
  },
});
const client = createCoherenceClient({ url: args.url, ...auth() });
const sub = client.subscribe(
  args.tenant,
  {
    event: (e) => console.log(`${e.ts}  ${e.source.padEnd(16)} ${e.type.padEnd(12)} ${e.value}  (cursor ${e.cursor})`),
    score: (s) => console.log(`score ${s.score} ${s.status} over ${s.signalCount} signals`),
    reconnecting: (r) => console.error(`connection lost (${r.reason}); reconnecting in ${r.delayMs} ms`),
    error: (err) => {
      console.error(`subscription ended: ${err.code}: ${err.message}`);
      process.exitCode = 1;
    },
  },
  args.after === undefined ? {} : { after: args.after },
);
process.on("SIGINT", () => {
  console.error(`stopped; resume with --after ${sub.cursor ?? "(none yet)"}`);
  void client.close();
});
