// A scripted stand-in for the service behind an injected fetch: an ingest route that applies batches the way the
// real one does (Idempotency-Key replays, dedupe by signal), answers chosen per request by the test, and a record of
// every request. Unit tests only (STYLE.md 13: fakes behind a port).
export interface Recorded {
  n: number;
  url: string;
  method: string;
  headers: Headers;
  body: string;
  at: number;
}

/** What the test scripts for request `n`: an answer, "apply" (the model's own answer), a drop, or a lost answer. */
export type Script =
  | { kind: "apply" }
  | { kind: "answer"; status: number; body?: unknown; headers?: Record<string, string> }
  /** The connection fails before the service sees the request. */
  | { kind: "drop" }
  /** The service applies the request, then the connection drops before the answer arrives. */
  | { kind: "lose-answer" }
  /** No answer until the request is aborted (timeout). */
  | { kind: "hang" };

export interface IngestModel {
  /** Dedupe keys of the signals applied, each once. */
  stored: Map<string, unknown>;
  /** How many times each signal was applied (a correct client and service make every value 1). */
  applied: Map<string, number>;
  replays: number;
}

function signalKey(s: Record<string, unknown>): string {
  return `${s.tenantId}|${s.source}|${s.signalId ?? JSON.stringify([s.type, s.value, s.weight ?? 1])}|${s.ts}`;
}

export function scriptedServer(script: (r: Recorded) => Script = () => ({ kind: "apply" })) {
  const requests: Recorded[] = [];
  const model: IngestModel = { stored: new Map(), applied: new Map(), replays: 0 };
  const keys = new Map<string, { body: string; answer: unknown }>();

  const apply = (r: Recorded): { status: number; body: unknown; headers: Record<string, string> } => {
    const key = r.headers.get("idempotency-key");
    if (key !== null) {
      const seen = keys.get(key);
      if (seen && seen.body === r.body) {
        model.replays++;
        return { status: 202, body: seen.answer, headers: { "idempotency-replayed": "true" } };
      }
      if (seen)
        return {
          status: 422,
          body: { error: { code: "IDEMPOTENCY_KEY_REUSED", message: "x", details: [] } },
          headers: {},
        };
    }
    const parsed = JSON.parse(r.body) as { signals: Array<Record<string, unknown>> };
    let accepted = 0;
    const statuses = parsed.signals.map((s, i) => {
      const k = signalKey(s);
      const dup = model.stored.has(k);
      if (!dup) {
        model.stored.set(k, s);
        accepted++;
      }
      model.applied.set(k, (model.applied.get(k) ?? 0) + (dup ? 0 : 1));
      return { signalId: String(s.signalId ?? `d-${r.n}-${i}`), status: dup ? "duplicate" : "accepted" };
    });
    const answer = { accepted, duplicates: statuses.length - accepted, provenanceId: `prov-${r.n}`, signals: statuses };
    if (key !== null) keys.set(key, { body: r.body, answer });
    return { status: 202, body: answer, headers: {} };
  };

  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const r: Recorded = {
      n: requests.length,
      url: String(input),
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      body: typeof init?.body === "string" ? init.body : "",
      at: Date.now(),
    };
    requests.push(r);
    const step = script(r);
    if (step.kind === "drop") throw new TypeError("fetch failed (connection reset)");
    if (step.kind === "hang") {
      return new Promise<Response>((_, reject) => {
        init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
    }
    if (step.kind === "answer") {
      return new Response(step.body === undefined ? "" : JSON.stringify(step.body), {
        status: step.status,
        headers: { "content-type": "application/json", ...step.headers },
      });
    }
    const out = apply(r);
    if (step.kind === "lose-answer") throw new TypeError("fetch failed (socket hang up)");
    return new Response(JSON.stringify(out.body), {
      status: out.status,
      headers: { "content-type": "application/json", ...out.headers },
    });
  };
  return { fetch: fetchImpl as typeof fetch, requests, model };
}

/** The `{"error":{…}}` body of the service's REST errors. */
export function restError(code: string, details: unknown[] = []): unknown {
  return { error: { code, message: `${code.toLowerCase()} (scripted)`, details } };
}

/** Signals of one tenant, distinct by signalId, with explicit ts. */
export function signals(n: number, tenantId = "acme", from = 0) {
  return Array.from({ length: n }, (_, i) => ({
    tenantId,
    signalId: `s-${from + i}`,
    type: "latency",
    source: "probe",
    value: 0.5,
    ts: "2026-12-04T00:00:00.000Z",
  }));
}

/** The signals of a recorded ingest request. */
export function bodySignals(r: Recorded): Array<Record<string, unknown>> {
  return (JSON.parse(r.body) as { signals: Array<Record<string, unknown>> }).signals;
}
