// `npm run dlq:replay`: sends every dead-lettered sink message back to the sink queue (after the cause is
// fixed). Talks to the running service (COHERENCE_URL, default http://127.0.0.1:8787) with an operator token:
// OPS_TOKEN if set, else a dev token minted like `npm run token -- --tenant '*' --scope ops:write`.
import { serviceBase, tokenOrDev } from "./lib/service-client.mjs";

const base = serviceBase();
const token = tokenOrDev(process.env.OPS_TOKEN, "*", "ops:write metrics:read");
const auth = { authorization: `Bearer ${token}` };

const before = await fetch(`${base}/v1/ops/dlq`, { headers: auth });
if (!before.ok) {
  process.stderr.write(`[dlq] listing failed: ${before.status} ${await before.text()}\n`);
  process.exit(1);
}
const listing = await before.json();
process.stderr.write(`[dlq] ${listing.count} message(s) kept\n`);
for (const m of listing.messages.slice(0, 10)) process.stderr.write(`[dlq]   #${m.id} ${m.code}: ${m.reason}\n`);
const res = await fetch(`${base}/v1/ops/dlq/replay`, { method: "POST", headers: auth });
const body = await res.text();
if (!res.ok) {
  process.stderr.write(`[dlq] replay failed: ${res.status} ${body}\n`);
  process.exit(1);
}
process.stdout.write(`${body}\n`);
