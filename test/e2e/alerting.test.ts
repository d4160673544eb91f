// Alerts that reach someone (issue 15), end to end: `npm start` with real Neo4j and Postgres, Debian's Prometheus
// scraping its /metrics and evaluating observability/alert-rules.yaml (windows and `for` durations shortened for
// the test, nothing else changed), Debian's Alertmanager routing as observability/alertmanager.yml does but to a
// local webhook receiver in PagerDuty's place. A tenant over its budget raises a ticket; Postgres stopped raises the
// sink write-error alert, and its resolution arrives once Postgres is back.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureAlertmanagerInstalled, ensurePrometheusInstalled } from "../../scripts/lib/prometheus.mjs";
import { freePort, mintToken, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";
import { ingest, newTenant, signal } from "./helpers";
import { eventually, SinkStack } from "./sink-stack";

const root = resolve(import.meta.dirname, "..", "..");

interface Notification {
  status: "firing" | "resolved";
  alerts: Array<{ status: string; labels: Record<string, string>; annotations: Record<string, string> }>;
}

let stack: SinkStack;
let svc: RunningService;
let receiver: Server;
const children: ChildProcess[] = [];
const received: Notification[] = [];
let promUrl = "";

/** The shipped rules with the test's time scale: 5-minute windows become 20 s, every `for` 1 s. */
function testRules(): string {
  return readFileSync(join(root, "observability", "alert-rules.yaml"), "utf8")
    .replace(/\[5m\]/g, "[20s]")
    .replace(/for: \d+[smh]/g, "for: 1s");
}

/** The shipped routes (observability/alertmanager.yml) with the webhook receiver in PagerDuty's place. */
function testAlertmanagerConfig(url: string): string {
  const shipped = readFileSync(join(root, "observability", "alertmanager.yml"), "utf8");
  expect(shipped).toContain("routing_key_file"); // the shipped config pages through PagerDuty
  return [
    "route:",
    "  receiver: ticket",
    "  group_by: [alertname, store, slo]",
    "  group_wait: 1s",
    "  group_interval: 1s",
    "  repeat_interval: 1h",
    "  routes:",
    "    - matchers: ['severity=\"page\"']",
    "      receiver: page",
    "receivers:",
    "  - name: page",
    "    webhook_configs:",
    `      - url: ${url}/page`,
    "        send_resolved: true",
    "  - name: ticket",
    "    webhook_configs:",
    `      - url: ${url}/ticket`,
    "        send_resolved: true",
    "",
  ].join("\n");
}

beforeAllOrFail(async () => {
  const { prometheus } = await ensurePrometheusInstalled();
  const { alertmanager } = await ensureAlertmanagerInstalled();
  stack = await SinkStack.start("pg-alerting");
  svc = await startService({
    env: { ...stack.serviceEnv(), RPS_MAX: "100000", FINOPS_TENANT_DAILY_BUDGET_USD: "0.00003" },
  });

  const receiverPort = await freePort();
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      received.push(JSON.parse(body) as Notification);
      res.end("ok");
    });
  });
  await new Promise<void>((ok) => receiver.listen(receiverPort, "127.0.0.1", ok));

  const dir = mkdtempSync(join(tmpdir(), "coherence-alerting-"));
  const amPort = await freePort();
  writeFileSync(join(dir, "alertmanager.yml"), testAlertmanagerConfig(`http://127.0.0.1:${receiverPort}`));
  children.push(
    spawn(
      alertmanager,
      [
        `--config.file=${join(dir, "alertmanager.yml")}`,
        `--storage.path=${join(dir, "am")}`,
        `--web.listen-address=127.0.0.1:${amPort}`,
        "--cluster.listen-address=",
      ],
      { stdio: "ignore" },
    ),
  );
  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  writeFileSync(join(dir, "rules.yaml"), testRules());
  writeFileSync(
    join(dir, "prometheus.yml"),
    [
      "global:",
      "  scrape_interval: 1s",
      "  evaluation_interval: 1s",
      "rule_files:",
      `  - ${join(dir, "rules.yaml")}`,
      "alerting:",
      "  alertmanagers:",
      "    - static_configs:",
      `        - targets: ["127.0.0.1:${amPort}"]`,
      "scrape_configs:",
      "  - job_name: coherence",
      "    authorization:",
      "      type: Bearer",
      `      credentials: ${await mintToken("*", "metrics:read")}`,
      "    static_configs:",
      `      - targets: ["${new URL(svc.baseUrl).host}"]`,
      "",
    ].join("\n"),
  );
  children.push(
    spawn(
      prometheus,
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "prom")}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: "ignore" },
    ),
  );
  // The rules see a counter's first increment only if Prometheus scraped it at 0 before: wait for the first scrape.
  await eventually(
    "Prometheus scraping the service",
    async () => {
      const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent("finops_budget_alerts_total")}`);
      // Every series exposed at 0: scope (tenant, environment) × period (day, month) × threshold (warning, critical).
      return ((await res.json()) as { data: { result: unknown[] } }).data.result.length === 2 * 2 * 2;
    },
    60_000,
  );
}, 600_000);

afterAll(async () => {
  for (const c of children) c.kill("SIGTERM");
  receiver?.close();
  await svc?.stop();
  await stack?.close();
});

/** The notifications for `alertname` (and `store` when given) with `status`, as the receiver got them. */
function notified(alertname: string, status: "firing" | "resolved", store?: string) {
  return received.flatMap((n) =>
    n.alerts.filter(
      (a) =>
        a.labels.alertname === alertname && a.status === status && (store === undefined || a.labels.store === store),
    ),
  );
}

describe("alert routing (Prometheus → Alertmanager → receiver)", () => {
  it("delivers a tenant's budget crossing as a ticket", async () => {
    const tenant = newTenant("alert-budget");
    const token = await mintToken(tenant, "coherence:write");
    // The test budget (FINOPS_TENANT_DAILY_BUDGET_USD) is crossed after a few dozen requests; go well past it.
    for (let i = 0; i < 6; i++) {
      await Promise.all(Array.from({ length: 10 }, () => ingest(svc.baseUrl, signal(tenant), token)));
      await new Promise((r) => setTimeout(r, 1000));
    }
    await eventually(
      "the tenant's budget_alert line",
      async () => svc.output().includes(`"op":"budget_alert","scope":"tenant","tenant_id":"${tenant}"`),
      30_000,
    );
    const scrape = await mintToken("*", "metrics:read");
    await eventually(
      "the budget alert counted in /metrics",
      async () =>
        /^finops_budget_alerts_total\{period="day",scope="tenant",threshold="warning"\} [1-9]/m.test(
          await (await fetch(`${svc.baseUrl}/metrics`, { headers: { authorization: `Bearer ${scrape}` } })).text(),
        ),
      30_000,
    );
    await eventually(
      "the budget ticket",
      async () => notified("CoherenceBudgetThresholdCrossed", "firing").length > 0,
      60_000,
    );
    const [alert] = notified("CoherenceBudgetThresholdCrossed", "firing");
    expect(alert?.labels).toMatchObject({ severity: "ticket", slo: "finops-budget", period: "day" });
    expect(alert?.annotations.runbook).toBe("docs/runbooks.md#finops-budget");
  }, 120_000);

  it("fires the sink alert while Postgres is down and resolves it once Postgres is back", async () => {
    const tenant = newTenant("alert-sink");
    const token = await mintToken(tenant, "coherence:write");
    const publish = async () => {
      const res = await ingest(svc.baseUrl, signal(tenant, { signalId: `s-${Date.now()}-${Math.random()}` }), token);
      expect(res.status, res.text).toBe(202);
    };
    await publish();
    await stack.stopPostgres();
    let stop = false;
    const traffic = (async () => {
      while (!stop) {
        await publish();
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    try {
      await eventually(
        "the sink write-error alert at the receiver",
        async () => notified("CoherenceSinkWriteErrors", "firing", "postgres").length > 0,
        120_000,
      );
    } finally {
      await stack.restartPostgres();
    }
    const [firing] = notified("CoherenceSinkWriteErrors", "firing", "postgres");
    expect(firing?.labels).toMatchObject({ severity: "ticket", slo: "sink-freshness" });
    await eventually(
      "its resolution at the receiver",
      async () => notified("CoherenceSinkWriteErrors", "resolved", "postgres").length > 0,
      180_000,
    );
    stop = true;
    await traffic;
  }, 400_000);
});
