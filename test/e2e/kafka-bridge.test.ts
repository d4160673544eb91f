// The Kafka bridge end to end (docs/kafka-bridge.md): a real Kafka 4.1 broker in KRaft mode (scripts/lib/kafka.mjs, jars from
// Maven Central), `npm start`, and `npm run bridge:kafka` as a user runs it. What reached the service is read back
// through GraphQL; offsets and dead letters through Kafka's own APIs (@platformatic/kafka's Admin and Consumer) —
// never through the bridge's code. Tokens come as in production: both services run the dev OpenID Provider beside
// them (`npm start`), and the bridge gets each tenant's token by OAuth client credentials (INGEST_OAUTH_ISSUER,
// INGEST_OAUTH_CLIENTS_FILE) through @coherence/client — it holds no token file.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from "@platformatic/kafka";
import { afterAll, describe, expect, it } from "vitest";
import { createTopics, type RunningKafka, startKafka } from "../../scripts/lib/kafka.mjs";
import { computeScore } from "../../src/domain/score";
import { freePort, type RunningService, startProcess, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";
import { newTenant, readScore } from "./helpers";

const SCOPE = "coherence:read coherence:write";
/**
 * The backpressure test runs against its own service with a tiny per-tenant rate limit, so it meets 429s however
 * slow the machine is; everything else uses a service whose limit no test reaches.
 */
const RPS_MAX = "100000";
const RPS_MAX_LIMITED = "5";

let kafka: RunningKafka;
let svc: RunningService;
let limited: RunningService;
/** The bridge's INGEST_OAUTH_CLIENTS_FILE: tenant id → its OAuth client at the IdP. */
let bridgeClientsFile: string;
const secrets = new Map<string, string>();
/** The IdP's settings of both services (their machine clients, the token lifetime). */
let idpEnv: Record<string, string>;
/** The tokens this test fetched to read scores (none may appear in the bridge's output either). */
const tokens = new Set<string>();
const bridges: Bridge[] = [];
// Tenants the bridge has OAuth clients for, and one it has none for (its records must be dead-lettered FORBIDDEN).
const T = { a: newTenant("kafka-a"), b: newTenant("kafka-b"), c: newTenant("kafka-c"), e: newTenant("kafka-e") };
const T_FOREIGN = newTenant("kafka-foreign");
const T_F = newTenant("kafka-f");
const T_G = newTenant("kafka-g");
const T_H = newTenant("kafka-h");
/** The broker's directory, kept across the restart test (startKafka removes only directories it made itself). */
let kafkaDir: string;

beforeAllOrFail(async () => {
  const started = Date.now();
  kafkaDir = mkdtempSync(join(tmpdir(), "kafka-bridge-e2e-broker-"));
  // One machine client per tenant at the IdP (IDP_CLIENTS_FILE, as an operator would register them), and the
  // bridge's file naming them. Tokens live 60 s, so the longer tests also ride through refreshes.
  const dir = mkdtempSync(join(tmpdir(), "kafka-bridge-e2e-"));
  const idpClients = [T.a, T.b, T.c, T.e, T_F, T_G, T_H].map((tenant) => {
    secrets.set(tenant, randomUUID());
    return { client_id: `bridge-${tenant}`, client_secret: secrets.get(tenant), tenant, scope: SCOPE };
  });
  writeFileSync(join(dir, "idp-clients.json"), JSON.stringify({ clients: idpClients }));
  bridgeClientsFile = join(dir, "bridge-clients.json");
  writeFileSync(
    bridgeClientsFile,
    JSON.stringify(
      Object.fromEntries(idpClients.map((c) => [c.tenant, { clientId: c.client_id, clientSecret: c.client_secret }])),
    ),
  );
  idpEnv = { IDP_CLIENTS_FILE: join(dir, "idp-clients.json"), IDP_ACCESS_TOKEN_TTL_S: "60" };
  [kafka, svc, limited] = await Promise.all([
    startKafka({ dataDir: kafkaDir }),
    startService({ idp: true, env: { RPS_MAX, ...idpEnv } }),
    startService({ idp: true, env: { RPS_MAX: RPS_MAX_LIMITED, ...idpEnv } }),
  ]);
  process.stderr.write(`[kafka-bridge e2e] broker and service up in ${Date.now() - started} ms\n`);
}, 300_000);

afterAll(async () => {
  await Promise.all(bridges.map((b) => b.kill()));
  await Promise.all([svc?.stop(), limited?.stop()]);
  await kafka?.stop();
  if (kafkaDir) rmSync(kafkaDir, { recursive: true, force: true });
}, 120_000);

// ---------------------------------------------------------------------------------------------- the bridge process

interface Bridge {
  metricsUrl: string;
  output: () => string;
  exited: Promise<void>;
  /** Sum of a metric's samples whose labels include `labels`. */
  metric: (name: string, labels?: Record<string, string>) => Promise<number>;
  kill: () => Promise<void>;
  /** SIGTERM (graceful shutdown); resolves once the bridge logged its clean stop and its processes are gone. */
  stop: () => Promise<void>;
}

async function startBridge(topic: string, env: Record<string, string> = {}, target?: RunningService): Promise<Bridge> {
  const port = await freePort();
  const proc = startProcess("npm", ["run", "bridge:kafka"], {
    env: {
      ...process.env,
      KAFKA_BROKERS: kafka.brokers,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: `${topic}-bridge`,
      KAFKA_DLQ_TOPIC: `${topic}.dlq`,
      KAFKA_SESSION_TIMEOUT_MS: "10000",
      INGEST_URL: (target ?? svc).baseUrl,
      INGEST_OAUTH_ISSUER: issuerOf(target ?? svc),
      INGEST_OAUTH_CLIENTS_FILE: bridgeClientsFile,
      BRIDGE_METRICS_PORT: String(port),
      BRIDGE_LAG_INTERVAL_MS: "500",
      ...env,
    },
  });
  const output = proc.output;
  // npm's exit (it dies of the signal too); the bridge's own clean exit shows as its "stopped" log line.
  const exited = proc.exited.then(() => {});
  const metricsUrl = `http://127.0.0.1:${port}`;
  const bridge: Bridge = {
    metricsUrl,
    output,
    exited,
    metric: async (name, labels = {}) => {
      const text = await (await fetch(`${metricsUrl}/metrics`)).text();
      let sum = 0;
      for (const line of text.split("\n")) {
        const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
        if (!m || m[1] !== name) continue;
        const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
        if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
      }
      return sum;
    },
    kill: async () => {
      proc.signal("SIGKILL");
      await exited;
    },
    stop: async () => {
      proc.signal("SIGTERM");
      await eventually("the bridge's clean stop", async () => /"phase":"stopped"/.test(output()), 30_000, output);
      await exited;
    },
  };
  bridges.push(bridge);
  await eventually(
    "the bridge to join its group",
    async () => (await fetch(`${metricsUrl}/readyz`)).status === 200,
    60_000,
    output,
  );
  return bridge;
}

// ---------------------------------------------------------------------------------------------- Kafka, read directly

async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  context: () => string = () => "",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Rec {
  value: string | undefined;
  partition?: number;
  key?: string;
}

async function produce(topic: string, records: Rec[]): Promise<void> {
  const producer = new Producer({
    clientId: "e2e-producer",
    bootstrapBrokers: [kafka.brokers],
    serializers: stringSerializers,
  });
  try {
    for (let i = 0; i < records.length; i += 1000) {
      await producer.send({
        messages: records.slice(i, i + 1000).map((r) => ({
          topic,
          key: r.key ?? randomUUID(),
          value: r.value,
          ...(r.partition !== undefined ? { partition: r.partition } : {}),
        })),
      });
    }
  } finally {
    await producer.close();
  }
}

/** Per partition: [end offset, committed offset of `group` (-1 when none)]. */
async function offsets(topic: string, group: string, partitions: number): Promise<Array<[number, number]>> {
  const admin = new Admin({ clientId: "e2e-admin", bootstrapBrokers: [kafka.brokers] });
  try {
    const ids = Array.from({ length: partitions }, (_, p) => p);
    const [ends] = await admin.listOffsets({
      topics: [{ name: topic, partitions: ids.map((p) => ({ partitionIndex: p, timestamp: -1n })) }],
    });
    const [committed] = await admin.listConsumerGroupOffsets({ groups: [group] });
    return ids.map((p) => {
      const end = ends?.partitions.find((x) => x.partitionIndex === p)?.offset ?? -1n;
      const c =
        committed?.topics.find((t) => t.name === topic)?.partitions.find((x) => x.partitionIndex === p)
          ?.committedOffset ?? -1n;
      return [Number(end), Number(c)];
    });
  } finally {
    await admin.close();
  }
}

const allCommitted = async (topic: string, partitions: number) =>
  (await offsets(topic, `${topic}-bridge`, partitions)).every(([end, c]) => c === end);

interface DeadLetter {
  value: string | undefined;
  headers: Record<string, string>;
}

/** Reads `count` records of a dead-letter topic from its start (a fresh group each time). */
async function readDeadLetters(topic: string, count: number): Promise<DeadLetter[]> {
  const consumer = new Consumer({
    groupId: `e2e-dlq-reader-${randomUUID()}`,
    clientId: "e2e-dlq-reader",
    bootstrapBrokers: [kafka.brokers],
    deserializers: stringDeserializers,
    maxWaitTime: 200,
  });
  const out: DeadLetter[] = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: "earliest", autocommit: false });
    const timer = setTimeout(() => void stream.close(), 20_000);
    for await (const m of stream) {
      out.push({ value: m.value, headers: Object.fromEntries(m.headers) });
      if (out.length >= count) break;
    }
    clearTimeout(timer);
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return out;
}

function issuerOf(on: RunningService): string {
  if (!on.idp) throw new Error("the service was started without its IdP");
  return on.idp.issuer;
}

/** A reader's token for `tenant` from `on`'s IdP, by the tenant client's credentials (as a user would get one). */
async function readerToken(tenant: string, on: RunningService): Promise<string> {
  const res = await fetch(`${issuerOf(on)}/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`bridge-${tenant}:${secrets.get(tenant)}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: "coherence:read" }).toString(),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`token for ${tenant}: ${res.status}`);
  tokens.add(body.access_token);
  return body.access_token;
}

const signalCount = async (tenant: string, on: RunningService = svc) =>
  (await readScore(on.baseUrl, tenant, await readerToken(tenant, on))).signalCount;

/** Neither a client secret nor a token may appear in the bridge's output. */
function expectNoTokensIn(text: string): void {
  for (const token of tokens) expect(text.includes(token), "a token appears in the bridge's output").toBe(false);
  for (const secret of secrets.values())
    expect(text.includes(secret), "a client secret appears in the bridge's output").toBe(false);
}

// ---------------------------------------------------------------------------------------------- tests

describe("Kafka bridge (npm run bridge:kafka) against a real broker", () => {
  it("turns 10,000 messages into exactly 10,000 signals, across a crash of the bridge mid-stream", async () => {
    const topic = `e2e-signals-${randomUUID()}`;
    await createTopics(kafka.brokers, [{ name: topic, partitions: 3 }]);
    // Two tenants, interleaved; a third of the records carry no signalId (the bridge derives one from the record's
    // position) and a fifth no ts (the record's timestamp is used), so a redelivery must dedupe on derived keys too.
    const expected = new Map<string, Array<{ v: number; w: number }>>([
      [T.a, []],
      [T.b, []],
    ]);
    const ts = new Date(Date.now() - 60_000).toISOString();
    const records: Rec[] = Array.from({ length: 10_000 }, (_, i) => {
      const tenantId = i % 2 === 0 ? T.a : T.b;
      const v = ((i * 37) % 101) / 100;
      const w = 1 + (i % 3);
      expected.get(tenantId)?.push({ v, w });
      const signal: Record<string, unknown> = { tenantId, type: "latency", source: "kafka-e2e", value: v, weight: w };
      if (i % 3 !== 0) signal.signalId = `s-${i}`;
      if (i % 5 !== 0) signal.ts = ts;
      return { value: JSON.stringify(signal) };
    });
    await produce(topic, records);

    // Small batches, one at a time, commits every 3 s: the crash lands mid-stream with acknowledged, uncommitted work.
    // A 6 s session (the broker's minimum): the restarted bridge gets the partitions once the dead member expires.
    const first = await startBridge(topic, {
      KAFKA_SESSION_TIMEOUT_MS: "6000",
      BRIDGE_BATCH_MAX: "50",
      BRIDGE_CONCURRENCY: "1",
      BRIDGE_COMMIT_INTERVAL_MS: "3000",
    });
    await eventually(
      "2,000 acknowledged signals",
      async () => (await first.metric("kafka_bridge_signals_forwarded_total")) >= 2000,
      60_000,
      first.output,
    );
    const acknowledgedAtCrash = await first.metric("kafka_bridge_signals_forwarded_total");
    await first.kill();
    expect(acknowledgedAtCrash, "the crash must land mid-stream").toBeLessThan(10_000);
    const atCrash = await offsets(topic, `${topic}-bridge`, 3);
    const committedAtCrash = atCrash.reduce((n, [, c]) => n + Math.max(0, c), 0);
    expect(committedAtCrash).toBeLessThan(10_000);

    const second = await startBridge(topic, { KAFKA_SESSION_TIMEOUT_MS: "6000" });
    await eventually("every offset committed", () => allCommitted(topic, 3), 90_000, second.output);
    expect(await signalCount(T.a)).toBe(5000);
    expect(await signalCount(T.b)).toBe(5000);
    for (const [tenant, values] of expected) {
      const view = await readScore(svc.baseUrl, tenant, await readerToken(tenant, svc));
      expect(view.score).toBe(computeScore(values));
    }
    // What the first run had acknowledged but not committed came again and was recognised as already stored.
    const duplicates = await second.metric("kafka_bridge_signals_forwarded_total", { status: "duplicate" });
    const accepted = await second.metric("kafka_bridge_signals_forwarded_total", { status: "accepted" });
    expect(duplicates).toBeGreaterThan(0);
    expect(accepted + duplicates).toBe(10_000 - committedAtCrash);
    expect(await second.metric("kafka_bridge_dead_letters_total")).toBe(0);
    expectNoTokensIn(first.output() + second.output());
    await second.stop();
  }, 180_000);

  it("dead-letters poison messages with their reason and position, and the partition keeps flowing", async () => {
    const topic = `e2e-poison-${randomUUID()}`;
    await createTopics(kafka.brokers, [{ name: topic, partitions: 1 }]);
    const good = (i: number) =>
      JSON.stringify({ tenantId: T.c, signalId: `g-${i}`, type: "t", source: "kafka-e2e", value: 0.5 });
    const poison: Array<{ value: string | undefined; code: string }> = [
      { value: "not json {", code: "MALFORMED_JSON" },
      { value: undefined, code: "MALFORMED_JSON" }, // a tombstone: no value at all
      { value: "[1,2,3]", code: "VALIDATION_FAILED" },
      { value: JSON.stringify({ type: "t", source: "s", value: 0.5 }), code: "VALIDATION_FAILED" }, // no tenantId
      { value: JSON.stringify({ tenantId: T.c, type: "t", source: "s", value: 1.5 }), code: "VALIDATION_FAILED" },
      {
        value: JSON.stringify({ tenantId: T.c, type: "t", source: "s", value: 0.5, colour: "red" }),
        code: "VALIDATION_FAILED",
      },
      {
        value: JSON.stringify({
          tenantId: T.c,
          type: "t",
          source: "s",
          value: 0.5,
          ts: new Date(Date.now() + 3_600_000).toISOString(),
        }),
        code: "VALIDATION_FAILED",
      },
      { value: JSON.stringify({ tenantId: T_FOREIGN, type: "t", source: "s", value: 0.5 }), code: "FORBIDDEN" },
    ];
    // Poison first, in the middle of good records, and last; all in partition 0, so offset = position.
    const records: Rec[] = [];
    const poisonAt = new Map<number, { value: string | undefined; code: string }>();
    let goodCount = 0;
    for (let i = 0; i < 300; i++) {
      const p = i % 40 === 0 || i === 299 ? (poison[(i / 40) | 0] ?? poison[7]) : undefined;
      if (p) {
        poisonAt.set(i, p);
        records.push({ value: p.value, partition: 0 });
      } else {
        records.push({ value: good(i), partition: 0 });
        goodCount++;
      }
    }
    await produce(topic, records);
    const bridge = await startBridge(topic);
    await eventually("the partition to be committed to its end", () => allCommitted(topic, 1), 60_000, bridge.output);
    expect(await signalCount(T.c)).toBe(goodCount);

    const letters = await readDeadLetters(`${topic}.dlq`, poisonAt.size);
    expect(letters).toHaveLength(poisonAt.size);
    const byOffset = new Map(letters.map((l) => [Number(l.headers["x-source-offset"]), l]));
    for (const [offset, p] of poisonAt) {
      const letter = byOffset.get(offset);
      expect(letter, `dead letter for offset ${offset}`).toBeDefined();
      expect(letter?.headers).toMatchObject({
        "x-error-code": p.code,
        "x-source-partition": "0",
        "x-source-offset": String(offset),
        "x-source-topic": topic,
      });
      expect(letter?.headers["x-error-reason"]?.length).toBeGreaterThan(0);
      expect(letter?.value ?? undefined).toBe(p.value);
    }
    expect(await bridge.metric("kafka_bridge_dead_letters_total")).toBe(poisonAt.size);
    expectNoTokensIn(bridge.output());
    await bridge.stop();
  }, 120_000);

  it("honours 429 Retry-After and pauses fetching instead of buffering when too much is in flight", async () => {
    const topic = `e2e-backpressure-${randomUUID()}`;
    await createTopics(kafka.brokers, [{ name: topic, partitions: 2 }]);
    const n = 40;
    await produce(
      topic,
      Array.from({ length: n }, (_, i) => ({
        value: JSON.stringify({ tenantId: T.e, signalId: `bp-${i}`, type: "t", source: "kafka-e2e", value: 0.9 }),
      })),
    );
    // One signal per request, eight at a time, against RPS_MAX=5: the service answers 429 with Retry-After, and
    // with at most 10 records in flight the bridge stops fetching until the service has taken half of them.
    const bridge = await startBridge(
      topic,
      { BRIDGE_BATCH_MAX: "1", BRIDGE_CONCURRENCY: "8", BRIDGE_LINGER_MS: "0", BRIDGE_MAX_IN_FLIGHT: "10" },
      limited,
    );
    await eventually("every offset committed", () => allCommitted(topic, 2), 90_000, bridge.output);
    // The bridge's last requests may have used this second's budget: read until the limiter lets us.
    await eventually("the tenant's count", async () => (await signalCount(T.e, limited)) === n, 10_000, bridge.output);
    expect(await bridge.metric("kafka_bridge_ingest_requests_total", { status: "429" })).toBeGreaterThan(0);
    expect(await bridge.metric("kafka_bridge_ingest_retries_total", { code: "RATE_LIMITED" })).toBeGreaterThan(0);
    // Every retry of a 429 waited what Retry-After said (1 s), not less.
    const retryLines = bridge
      .output()
      .split("\n")
      .filter((l) => l.includes('"error_code":"RATE_LIMITED"'))
      .map((l) => JSON.parse(l) as { retry_in_ms?: number });
    expect(retryLines.length).toBeGreaterThan(0);
    for (const l of retryLines) expect(l.retry_in_ms).toBe(1000);
    expect(await bridge.metric("kafka_bridge_pauses_total")).toBeGreaterThan(0);
    expect(await bridge.metric("kafka_bridge_dead_letters_total")).toBe(0);
    // Each signal was accepted once; a rejoin under load may redeliver some, which the service reports as duplicates.
    expect(await bridge.metric("kafka_bridge_signals_forwarded_total", { status: "accepted" })).toBe(n);
    await bridge.stop();
  }, 120_000);

  it("commits everything acknowledged on a graceful shutdown, so a restart re-sends nothing", async () => {
    const topic = `e2e-shutdown-${randomUUID()}`;
    await createTopics(kafka.brokers, [{ name: topic, partitions: 2 }]);
    const signal = (i: number) =>
      JSON.stringify({ tenantId: T_F, signalId: `sd-${i}`, type: "t", source: "kafka-e2e", value: 0.25 });
    await produce(
      topic,
      Array.from({ length: 500 }, (_, i) => ({ value: signal(i) })),
    );
    // No periodic commit: only the shutdown can commit.
    const bridge = await startBridge(topic, { BRIDGE_COMMIT_INTERVAL_MS: "600000" });
    await eventually(
      "500 signals acknowledged",
      async () => (await bridge.metric("kafka_bridge_signals_forwarded_total")) === 500,
      60_000,
      bridge.output,
    );
    expect(await signalCount(T_F)).toBe(500);
    expect(await allCommitted(topic, 2)).toBe(false);
    await bridge.stop();
    expect(await allCommitted(topic, 2)).toBe(true);

    const again = await startBridge(topic);
    await produce(
      topic,
      Array.from({ length: 10 }, (_, i) => ({ value: signal(500 + i) })),
    );
    await eventually("the 10 new signals", async () => (await signalCount(T_F)) === 510, 60_000, again.output);
    await eventually("every offset committed", () => allCommitted(topic, 2), 30_000, again.output);
    expect(await again.metric("kafka_bridge_messages_received_total")).toBe(10);
    expect(await again.metric("kafka_bridge_signals_forwarded_total", { status: "duplicate" })).toBe(0);
    await again.stop();
  }, 120_000);

  it("waits out a service outage without dead-lettering anything", async () => {
    const topic = `e2e-outage-${randomUUID()}`;
    await createTopics(kafka.brokers, [{ name: topic, partitions: 1 }]);
    const bridge = await startBridge(topic, { BRIDGE_BACKOFF_MAX_MS: "1000" });
    await svc.stop();
    await produce(
      topic,
      Array.from({ length: 300 }, (_, i) => ({
        value: JSON.stringify({ tenantId: T_G, signalId: `o-${i}`, type: "t", source: "kafka-e2e", value: 0.7 }),
      })),
    );
    // `npm start` runs the IdP too, so the bridge finds neither: its token requests fail (TOKEN_UNAVAILABLE) or,
    // holding a token, its ingest requests do (NETWORK_ERROR); both are retried, neither is dead-lettered.
    await eventually(
      "retries while the service is down",
      async () =>
        (await bridge.metric("kafka_bridge_ingest_retries_total", { code: "NETWORK_ERROR" })) +
          (await bridge.metric("kafka_bridge_ingest_retries_total", { code: "TOKEN_UNAVAILABLE" })) >=
        2,
      30_000,
      bridge.output,
    );
    // The same port, state and IdP (its port and keys), as a restart of `npm start` keeps them.
    svc = await startService({
      port: svc.port,
      stateDir: svc.stateDir,
      idp: { port: Number(new URL(issuerOf(svc)).port) },
      env: { RPS_MAX, ...idpEnv },
    });
    await eventually("every offset committed", () => allCommitted(topic, 1), 60_000, bridge.output);
    expect(await signalCount(T_G)).toBe(300);
    expect(await bridge.metric("kafka_bridge_dead_letters_total")).toBe(0);
    await bridge.stop();
  }, 120_000);

  it("rides out a restart of the broker", async () => {
    const topic = `e2e-broker-restart-${randomUUID()}`;
    await createTopics(kafka.brokers, [{ name: topic, partitions: 2 }]);
    const batch = (from: number) =>
      Array.from({ length: 100 }, (_, i) => ({
        value: JSON.stringify({
          tenantId: T_H,
          signalId: `br-${from + i}`,
          type: "t",
          source: "kafka-e2e",
          value: 0.6,
        }),
      }));
    const bridge = await startBridge(topic);
    await produce(topic, batch(0));
    await eventually("the first 100 committed", () => allCommitted(topic, 2), 30_000, bridge.output);
    const { port, controllerPort } = kafka;
    await kafka.stop();
    kafka = await startKafka({ dataDir: kafkaDir, port, controllerPort });
    await produce(topic, batch(100));
    await eventually("every offset committed after the restart", () => allCommitted(topic, 2), 60_000, bridge.output);
    expect(await signalCount(T_H)).toBe(200);
    expect(await bridge.metric("kafka_bridge_dead_letters_total")).toBe(0);
    await bridge.stop();
  }, 120_000);
});
