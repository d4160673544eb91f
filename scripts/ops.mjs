// `npm run ops`: the runtime switches (docs/api.md §4.11) of the running service, without a redeploy.
//   npm run ops                                   what is in effect, the parked sink messages, recent changes
//   npm run ops -- <switch> <value> [--reason R]  change one: coherence on|off, materializer on|off,
//                                                 read-mode durable-object|postgres|neo4j, op:<operation> on|off;
//                                                 `reset` restores the deployment's default
// Talks to COHERENCE_URL (default http://127.0.0.1:8787) with OPS_TOKEN if set, else a dev token minted like
// `npm run token -- --tenant '*' --scope 'ops:write metrics:read'`. A change reaches every isolate within 5 s.
import { parseArgs } from "node:util";
import { serviceBase, tokenOrDev } from "./lib/service-client.mjs";

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { reason: { type: "string" }, json: { type: "boolean", default: false } },
});
if (positionals.length !== 0 && positionals.length !== 2) {
  process.stderr.write("usage: npm run ops [-- <switch> <value> [--reason TEXT]]\n");
  process.exit(2);
}

const base = serviceBase();
const token = tokenOrDev(process.env.OPS_TOKEN, "*", "ops:write metrics:read");
const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function call(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) {
    process.stderr.write(`[ops] ${method} ${path} failed: ${res.status} ${text}\n`);
    process.exit(1);
  }
  return JSON.parse(text);
}

/** @param {Array<{name: string, value: string, default: string, source: string}>} switches */
function printSwitches(switches) {
  const width = Math.max(...switches.map((s) => s.name.length));
  for (const s of switches) {
    const origin = s.source === "switch" ? `switched (default ${s.default})` : "default";
    process.stdout.write(`${s.name.padEnd(width)}  ${s.value.padEnd(14)}  ${origin}\n`);
  }
}

if (positionals.length === 0) {
  const state = await call("GET", "/v1/ops/switches");
  if (flags.json) process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
  else {
    printSwitches(state.switches);
    process.stdout.write(`parked sink messages: ${state.parked.count}\n`);
    for (const h of state.history.slice(0, 10)) {
      const at = new Date(h.atMs).toISOString();
      process.stdout.write(
        `  ${at} ${h.name}: ${h.previous ?? "(default)"} -> ${h.value ?? "(default)"} by ${h.actor ?? "?"}${h.reason ? ` — ${h.reason}` : ""}\n`,
      );
    }
  }
} else {
  const [name, value] = positionals;
  const result = await call("PUT", `/v1/ops/switches/${encodeURIComponent(name)}`, {
    value,
    ...(flags.reason ? { reason: flags.reason } : {}),
  });
  if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const c = result.change;
    process.stderr.write(
      `[ops] ${c.name}: ${c.previous ?? "(default)"} -> ${c.value ?? "(default)"} (audit #${c.id})\n`,
    );
    printSwitches(result.switches);
  }
}
