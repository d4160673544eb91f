// What the contract promises for any graphql-transport-ws session, however hostile (§6): the server closes only
// with the contract's codes (never 1006/1011 from a crash), or stays open and answers; every message it sends is
// well-formed; and the subscribes whose outcome the contract fixes get exactly that outcome.
import type { HttpAnswer } from "./http-oracle";
import { WS_TENANT } from "./json";
import type { WsOutcome } from "./send";
import { MAX_FRAME_CHARS, type SubscribeExpect, type WsCase } from "./ws-frames";

/** Close codes the contract names (§6). */
export const CONTRACT_CLOSE_CODES = new Set([1000, 1009, 1013, 4400, 4401, 4403, 4408, 4409, 4429]);
const SERVER_TYPES = new Set(["connection_ack", "next", "error", "complete", "ping", "pong"]);
const UPPER_SNAKE = /^[A-Z][A-Z0-9_]*$/;

type Msg = { type?: unknown; id?: unknown; payload?: unknown; notJson?: string };

/** A subscribe that must get a known answer (when the connection is still open at the end). */
interface Obligation {
  id: string;
  expect: Exclude<SubscribeExpect, null>;
}

/**
 * The subscribes of a case whose outcome the contract fixes: on the WebSocket tenant's own path, first use of a
 * valid id, within the first 20. (They only bind when the socket is still open at the end: init succeeded.)
 */
export function obligations(c: WsCase): Obligation[] {
  const out: Obligation[] = [];
  if (c.tenant !== WS_TENANT) return out;
  const used = new Set<string>();
  let subscribes = 0;
  for (const f of c.frames) {
    if (f.t !== "subscribe" && f.t !== "padded") continue;
    subscribes++;
    const first = !used.has(f.id);
    used.add(f.id);
    if (!first || f.id.length < 1 || f.id.length > 64) continue;
    const expect = f.t === "padded" ? (f.chars <= MAX_FRAME_CHARS ? "next" : null) : f.expect;
    if (expect === null || (subscribes > 20 && expect !== "error")) continue;
    out.push({ id: f.id, expect });
  }
  return out;
}

function met(o: Obligation, received: readonly Msg[]): boolean {
  return received.some((m) => {
    if (m.id !== o.id) return false;
    if (o.expect === "next") return m.type === "next";
    if (m.type !== "error") return false;
    if (o.expect === "error") return true;
    const first = Array.isArray(m.payload) ? (m.payload[0] as { extensions?: { code?: unknown } }) : undefined;
    return first?.extensions?.code === o.expect;
  });
}

/** Whether every obligation of `c` has its answer among `received` (the runner stops waiting then). */
export const settledFor = (c: WsCase) => {
  const due = obligations(c);
  return (received: unknown[]) => due.every((o) => met(o, received as Msg[]));
};

function refusalProblem(c: WsCase, res: HttpAnswer): string | null {
  if (res.status >= 500) return `upgrade refused with ${res.status}`;
  if (c.tenant === WS_TENANT && c.protocols.includes("graphql-transport-ws")) {
    return `a valid upgrade was refused: ${res.status} ${res.text.slice(0, 200)}`;
  }
  if (!/json/i.test(res.contentType)) return `refusal ${res.status} in ${res.contentType}`;
  try {
    const body = JSON.parse(res.text) as { error?: { code?: unknown } };
    if (typeof body.error?.code !== "string" || !UPPER_SNAKE.test(body.error.code)) return "refusal without error.code";
  } catch {
    return "refusal body is not JSON";
  }
  return null;
}

/** The id a frame subscribes under, if it is a subscribe at all (generated, padded, or one in a text frame). */
function subscribedId(f: WsCase["frames"][number]): string[] {
  if (f.t === "subscribe" || f.t === "padded") return [f.id];
  if (f.t !== "text") return [];
  try {
    const m = JSON.parse(f.data) as { type?: unknown; id?: unknown };
    return m?.type === "subscribe" && typeof m.id === "string" ? [m.id] : [];
  } catch {
    return [];
  }
}

/** Why a session breaks the contract, or null. */
export function checkWs(c: WsCase, out: WsOutcome): string | null {
  if (out.refused) return refusalProblem(c, out.refused);
  if (out.timedOut) return "neither a close nor the probe's pong within 20 s";
  if (out.closed && !CONTRACT_CLOSE_CODES.has(out.closed.code)) {
    return `closed with ${out.closed.code} ${JSON.stringify(out.closed.reason)}`;
  }
  if (!out.closed && !out.answered) return `no close and no pong (${out.errors.join("; ") || "no error"})`;
  if (out.errors.length > 0 && !out.closed) return `socket errors: ${out.errors.join("; ")}`;
  const subscribed = new Set(c.frames.flatMap(subscribedId));
  for (const raw of out.received) {
    const m = raw as Msg;
    if (m.notJson !== undefined) return `a message that is not JSON: ${m.notJson}`;
    if (typeof m.type !== "string" || !SERVER_TYPES.has(m.type)) return `a message of type ${JSON.stringify(m.type)}`;
    if ((m.type === "next" || m.type === "error" || m.type === "complete") && !subscribed.has(String(m.id))) {
      return `a ${m.type} for id ${JSON.stringify(m.id)} that was never subscribed`;
    }
    if (m.type === "error") {
      const errors = Array.isArray(m.payload)
        ? (m.payload as Array<{ message?: unknown; extensions?: { code?: unknown } }>)
        : [];
      if (errors.length === 0) return "an error message without errors";
      for (const e of errors) {
        if (
          typeof e.message !== "string" ||
          typeof e.extensions?.code !== "string" ||
          !UPPER_SNAKE.test(e.extensions.code)
        ) {
          return `an error message without message/extensions.code: ${JSON.stringify(e).slice(0, 200)}`;
        }
      }
    }
  }
  if (out.answered && !out.closed) {
    for (const o of obligations(c)) {
      if (!met(o, out.received as Msg[])) return `subscribe ${JSON.stringify(o.id)} did not get its ${o.expect}`;
    }
  }
  return null;
}
