// Fuzzes the pure graphql-ws protocol machine (src/realtime/protocol.ts) with generated sequences of hostile
// frames, authentication outcomes and refused subscriptions: it never throws, closes only with the contract's
// codes (§6), keeps at most 20 distinct subscriptions, and accepts none before `connection_init` succeeded.
// FUZZ_RUNS / FUZZ_SEED scale and vary the run (`npm run fuzz`); CI uses the fixed defaults.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Action,
  type AuthResult,
  type ConnectionState,
  initialState,
  MAX_SUBSCRIPTIONS,
  onAuthenticated,
  onFrame,
  onSubscriptionEnded,
  type Phase,
  type Step,
} from "../../src/realtime/protocol";
import {
  frameData,
  MAX_FRAME_CHARS,
  scoreSubscribe,
  type Tokens,
  validInit,
  type WsFrame,
  wsFrameArb,
} from "../fuzz/arbitraries";

const SEED = Number(process.env.FUZZ_SEED ?? 424242);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
/** Close codes the contract names (§6); a crash would show as anything else. */
const CONTRACT_CLOSE_CODES = new Set([1000, 1009, 1013, 4400, 4401, 4403, 4408, 4409, 4429]);
/** The machine never sees tokens (the shell verifies them); any strings do. */
const TOKENS: Tokens = { write: "w.w.w", read: "r.r.r", foreign: "f.f.f", operator: "o.o.o", noscope: "n.n.n" };

/** How often each action was seen, to show the generators reach every rule. */
const outcomes = new Map<string, number>();

type Event = { frame: WsFrame } | { auth: AuthResult } | { ended: string };

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  { weight: 8, arbitrary: wsFrameArb.map((frame): Event => ({ frame })) },
  { weight: 2, arbitrary: fc.constantFrom<AuthResult>("ok", "unauthenticated", "forbidden").map((auth) => ({ auth })) },
  { weight: 1, arbitrary: fc.constantFrom("1", "2", "a", "s0").map((ended): Event => ({ ended })) },
);

const authenticated: Event[] = [{ frame: validInit("read") }, { auth: "ok" }];

/** Random sequences; authenticated ones; and ones that pile up subscriptions past the limit of 20, with noise. */
const sequenceArb: fc.Arbitrary<Event[]> = fc.oneof(
  { weight: 4, arbitrary: fc.array(eventArb, { minLength: 1, maxLength: 16 }) },
  {
    weight: 4,
    arbitrary: fc.array(eventArb, { minLength: 1, maxLength: 30 }).map((rest) => [...authenticated, ...rest]),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,8}$/), { minLength: 18, maxLength: 26 }),
        fc.array(fc.tuple(fc.nat(), eventArb), { maxLength: 4 }),
      )
      .map(([ids, noise]) => {
        const events: Event[] = ids.map((id) => ({ frame: scoreSubscribe(id, null) }));
        for (const [at, e] of noise) events.splice(at % (events.length + 1), 0, e);
        return [...authenticated, ...events];
      }),
  },
);

/** What the machine receives for a frame: binary frames as bytes, invalid UTF-8 as the runtime's lossy decoding. */
function wire(frame: WsFrame): string | ArrayBuffer {
  const data = frameData(frame, TOKENS);
  if (typeof data === "string") return data;
  return frame.t === "binary" ? data.buffer : new TextDecoder().decode(data);
}

/** graphql-ws `SubscribePayload`: `query` a string; variables/extensions objects, operationName a string (or null). */
function wellFormedSubscribe(payload: string): boolean {
  let p: unknown;
  try {
    p = JSON.parse(payload);
  } catch {
    return false;
  }
  if (p === null || typeof p !== "object" || Array.isArray(p)) return false;
  const r = p as Record<string, unknown>;
  const objectOrNull = (v: unknown) => v == null || (typeof v === "object" && !Array.isArray(v));
  return (
    typeof r.query === "string" &&
    objectOrNull(r.variables) &&
    objectOrNull(r.extensions) &&
    (r.operationName == null || typeof r.operationName === "string")
  );
}

/** Long runs of one character (padding, nesting) cut down, so a report stays readable. */
const shorten = (text: string) =>
  text.replace(/(.)\1{40,}/gs, (run, c: string) => `${c.repeat(8)}…×${run.length}…`).slice(0, 6000);

const closeOf = (actions: Action[]) => actions.find((a) => a.type === "close");
const validId = (id: string) => id.length >= 1 && id.length <= 64;

/** Checks one step against the contract; returns the state the next event sees, or null once the socket closed. */
function checkStep(prev: ConnectionState, event: Event): ConnectionState | null {
  if ("ended" in event) {
    const next = onSubscriptionEnded(prev, event.ended);
    expect(next.ids).toEqual(prev.ids.filter((i) => i !== event.ended));
    return next;
  }
  let data: string | ArrayBuffer | null = null;
  let step: Step;
  if ("auth" in event) step = onAuthenticated(prev, event.auth);
  else {
    data = wire(event.frame);
    step = onFrame(prev, data);
  }
  const { state, actions } = step;
  for (const a of actions) {
    const key =
      a.type === "close" ? `close ${a.code}` : a.type === "send" ? `send ${JSON.parse(a.frame).type}` : a.type;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }

  // Invariants of every step.
  const close = closeOf(actions);
  if (close?.type === "close") {
    expect(CONTRACT_CLOSE_CODES.has(close.code), `close code ${close.code}`).toBe(true);
    expect(actions.at(-1)).toBe(close);
  }
  expect(new Set(state.ids).size).toBe(state.ids.length);
  expect(state.ids.length).toBeLessThanOrEqual(MAX_SUBSCRIPTIONS);
  const order: Record<Phase, number> = { awaiting_init: 0, authenticating: 1, ready: 2 };
  expect(order[state.phase]).toBeGreaterThanOrEqual(order[prev.phase]);
  if (state.phase === "ready" && prev.phase !== "ready") expect(event).toEqual({ auth: "ok" });
  for (const a of actions) {
    if (a.type === "send") expect(typeof (JSON.parse(a.frame) as { type?: unknown }).type).toBe("string");
    if (a.type === "start") {
      expect(prev.phase).toBe("ready");
      expect(prev.ids).not.toContain(a.id);
      expect(state.ids).toEqual([...prev.ids, a.id]);
    }
    if (a.type === "authenticate") expect(prev.phase).toBe("awaiting_init");
  }

  // The contract's rules, where the generated frame's kind decides the outcome.
  if ("auth" in event) {
    if (prev.phase !== "authenticating") expect(actions).toEqual([]);
    else if (event.auth === "ok") expect(actions).toEqual([{ type: "send", frame: '{"type":"connection_ack"}' }]);
    else expect(close).toMatchObject({ code: event.auth === "unauthenticated" ? 4401 : 4403 });
  } else if (typeof data === "string" && data.length > MAX_FRAME_CHARS) {
    expect(close).toMatchObject({ code: 1009 });
  } else {
    const f = event.frame;
    if (f.t === "binary") expect(close).toMatchObject({ code: 4400 });
    if (f.t === "init" && f.shape !== "string" && f.shape !== "array") {
      if (prev.phase === "awaiting_init") expect(actions.map((a) => a.type)).toEqual(["authenticate"]);
      else expect(close).toMatchObject({ code: 4429 });
    }
    if (f.t === "init" && (f.shape === "string" || f.shape === "array")) expect(close).toMatchObject({ code: 4400 });
    if (f.t === "subscribe" || f.t === "padded") {
      const wellFormed = validId(f.id) && (f.t === "padded" || wellFormedSubscribe(f.payload));
      if (!wellFormed) expect(close).toMatchObject({ code: 4400 });
      else if (prev.phase !== "ready") expect(close).toMatchObject({ code: 4401 });
      else if (prev.ids.includes(f.id)) expect(close).toMatchObject({ code: 4409 });
      else if (prev.ids.length >= MAX_SUBSCRIPTIONS) {
        expect(state).toEqual(prev);
        const sent = actions[0];
        expect(actions).toHaveLength(1);
        expect(sent?.type === "send" && JSON.parse(sent.frame)).toMatchObject({ id: f.id, type: "error" });
      } else expect(actions.map((a) => a.type)).toEqual(["start"]);
    }
    if (f.t === "complete" && validId(f.id)) {
      expect(actions).toEqual(prev.ids.includes(f.id) ? [{ type: "stop", id: f.id }] : []);
      expect(state.ids).not.toContain(f.id);
    }
  }
  return close ? null : state;
}

describe("graphql-ws protocol machine under fuzzing", () => {
  it(
    `keeps the contract's close codes and limits over ${RUNS} generated frame sequences (seed ${SEED})`,
    () => {
      let frames = 0;
      const details = fc.check(
        fc.property(sequenceArb, (events) => {
          let state: ConnectionState | null = initialState;
          for (const event of events) {
            if (state === null) break;
            if ("frame" in event) frames++;
            state = checkStep(state, event);
          }
        }),
        { seed: SEED, numRuns: RUNS },
      );
      // Counterexamples can hold 200 KB frames: report them shortened, with the seed and path to replay.
      if (details.failed) expect.fail(shorten(fc.defaultReportMessage(details) ?? "property failed"));
      expect(frames).toBeGreaterThan(RUNS);
      console.log(`protocol fuzz: ${RUNS} sequences, ${frames} frames, seed ${SEED}:`, Object.fromEntries(outcomes));
      // Every rule the machine owns was exercised (4408 and 1013 belong to the shell's timers and flow control).
      const reached = ["close 4400", "close 4401", "close 4403", "close 4409", "close 4429", "close 1009", "start"];
      if (RUNS >= 1000)
        for (const key of [...reached, "send error"]) expect(outcomes.get(key) ?? 0, key).toBeGreaterThan(0);
    },
    Math.max(30_000, RUNS * 5),
  );
});
