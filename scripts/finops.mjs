// `npm run finops -- report --from YYYY-MM-DD --to YYYY-MM-DD [--csv] [--limit N]`: every tenant's usage and
// modelled cost over the range, most expensive first, with the totals — read page by page from
// GET /v1/finops/usage?tenantId=* (docs/api.md §4.6.1) of the service at COHERENCE_URL (default the local one),
// with FINOPS_TOKEN (an operator token with finops:read) or a dev token. Prints a table, or CSV with --csv.
import { parseArgs } from "node:util";
import { serviceBase, tokenOrDev } from "./lib/service-client.mjs";

const USAGE =
  "usage: npm run finops -- report --from YYYY-MM-DD --to YYYY-MM-DD [--csv] [--limit N]   (dates UTC; default today)";

/**
 * @typedef {{ ingest: number; graphql_query: number; graphql_mutation: number; subscribe: number }} Requests
 * @typedef {{ tenantId: string; requests: Requests; signals: number; rejected: number; units: Record<string, number>;
 *   estimatedCostUsd: number }} Line
 * @typedef {{ tenants: Line[]; totals: Omit<Line, "tenantId"> & { tenants: number; fixedCostUsd: number;
 *   totalCostUsd: number }; nextCursor: string | null }} Page
 */

/**
 * One GET of the overview; exits with the service's error on a non-2xx answer.
 * @param {URLSearchParams} q
 * @param {string} token
 */
async function get(q, token) {
  const res = await fetch(`${serviceBase()}/v1/finops/usage?${q}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (!res.ok) {
    console.error(`finops: ${res.status} ${text}`);
    process.exit(1);
  }
  return { res, text };
}

/**
 * Right-aligned table of rows (first row the header).
 * @param {string[][]} rows
 */
function table(rows) {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  "))
    .join("\n");
}

/** @param {number} usd */
const money = (usd) => `$${usd.toFixed(6)}`;

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      from: { type: "string" },
      to: { type: "string" },
      csv: { type: "boolean", default: false },
      limit: { type: "string", default: "500" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help || positionals[0] !== "report") {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const today = new Date().toISOString().slice(0, 10);
  const from = values.from ?? today;
  const to = values.to ?? from;
  const token = tokenOrDev(process.env.FINOPS_TOKEN, "*", "finops:read");
  let cursor = /** @type {string | null} */ (null);
  if (values.csv) {
    // Pages of CSV: the header once, the totals row (tenant `*`) with the last page.
    let first = true;
    do {
      const q = new URLSearchParams({ tenantId: "*", from, to, limit: values.limit, format: "csv" });
      if (cursor) q.set("cursor", cursor);
      const { res, text } = await get(q, token);
      const lines = text.split("\r\n").filter((l) => l !== "");
      process.stdout.write(`${(first ? lines : lines.slice(1)).join("\n")}\n`);
      first = false;
      cursor = res.headers.get("x-next-cursor");
    } while (cursor);
    return;
  }
  /** @type {Line[]} */
  const lines = [];
  /** @type {Page | null} */
  let last = null;
  do {
    const q = new URLSearchParams({ tenantId: "*", from, to, limit: values.limit });
    if (cursor) q.set("cursor", cursor);
    const page = /** @type {Page} */ (JSON.parse((await get(q, token)).text));
    lines.push(...page.tenants);
    last = page;
    cursor = page.nextCursor;
  } while (cursor);
  /** @param {string} name @param {Omit<Line, "tenantId">} l */
  const row = (name, l) => [
    name,
    String(l.requests.ingest),
    String(l.requests.graphql_query),
    String(l.requests.graphql_mutation),
    String(l.requests.subscribe),
    String(l.signals),
    String(l.rejected),
    String(l.units.worker_requests ?? 0),
    String(l.units.do_requests ?? 0),
    String(l.units.queue_operations ?? 0),
    money(l.estimatedCostUsd),
  ];
  const header = [
    "tenant",
    "ingest",
    "query",
    "mutation",
    "subscribe",
    "signals",
    "rejected",
    "worker req",
    "DO req",
    "queue ops",
    "cost",
  ];
  const rows = [header, ...lines.map((l) => row(l.tenantId, l))];
  if (last) rows.push(row(`total (${last.totals.tenants} tenants)`, last.totals));
  console.log(`FinOps usage ${from} .. ${to} (UTC), most expensive first`);
  console.log(table(rows));
  if (last) {
    console.log(
      `fixed (stores' hourly figures): ${money(last.totals.fixedCostUsd)}   total: ${money(last.totals.totalCostUsd)}`,
    );
  }
}

await main();
