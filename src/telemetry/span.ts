import { INVALID_SPAN_ID, INVALID_TRACE_ID } from "./ids";
import type { Baggage } from "./trace-context";

/** OpenTelemetry span kinds. */
export type SpanKind = "internal" | "server" | "client" | "producer" | "consumer";

/** Attribute values OTLP can carry (homogeneous arrays only). */
export type AttributeValue = string | number | boolean | readonly string[] | readonly number[] | readonly boolean[];

/** Attributes as callers pass them: `undefined`/`null` values are skipped. */
export type Attributes = Record<string, AttributeValue | null | undefined>;

/** What a child span needs from its parent, local or remote. */
export interface ParentContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly baggage: Baggage;
}

/** A link to a span of another trace (e.g. the other queue messages one consumer span handles). */
export interface SpanLink {
  traceId: string;
  spanId: string;
}

export type SpanStatusCode = "unset" | "ok" | "error";

/** A span after `end()`: plain data, ready to encode. Times are epoch milliseconds (fractions allowed). */
export interface FinishedSpan {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  /** `null` for a trace's root span. */
  parentSpanId: string | null;
  startMs: number;
  endMs: number;
  attributes: Record<string, AttributeValue>;
  events: Array<{ name: string; timeMs: number; attributes: Record<string, AttributeValue> }>;
  links: SpanLink[];
  status: { code: SpanStatusCode; message?: string };
}

/** A span being recorded (or the no-op span when tracing is off: every method does nothing). */
export interface Span extends ParentContext {
  /** `false` for the no-op span; its ids are all zeros and it is never exported. */
  readonly recording: boolean;
  readonly name: string;
  /** Renames the span (e.g. once the HTTP route is known). */
  updateName(name: string): this;
  setAttribute(key: string, value: AttributeValue | null | undefined): this;
  setAttributes(attributes: Attributes): this;
  /** Sets a baggage entry for this span's children (and what crosses RPC/queues from them), and as an attribute. */
  setBaggage(key: string, value: string): this;
  addLink(link: SpanLink): this;
  /** Status `error` and an `exception` event with the error's type and message (never its stack). */
  recordError(err: unknown): this;
  setStatus(code: SpanStatusCode, message?: string): this;
  /** Ends the span once; later calls are ignored. */
  end(atMs?: number): void;
}

/** Adds `attributes` to `target`, skipping `null`/`undefined`. */
export function mergeAttributes(target: Record<string, AttributeValue>, attributes: Attributes | undefined): void {
  if (!attributes) return;
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined && v !== null) target[k] = v;
}

/** A recorded span; created by the Tracer, which receives it on `end()`. */
export class RecordingSpan implements Span {
  readonly recording = true;
  private readonly attributes: Record<string, AttributeValue> = {};
  private readonly events: FinishedSpan["events"] = [];
  private readonly links: SpanLink[] = [];
  private status: FinishedSpan["status"] = { code: "unset" };
  private ended = false;
  private currentBaggage: Baggage;

  constructor(
    public name: string,
    private readonly kind: SpanKind,
    readonly traceId: string,
    readonly spanId: string,
    private readonly parentSpanId: string | null,
    baggage: Baggage,
    private readonly startMs: number,
    private readonly clock: () => number,
    private readonly promoted: ReadonlySet<string>,
    private readonly onEnd: (span: FinishedSpan) => void,
  ) {
    this.currentBaggage = baggage;
    for (const [k, v] of Object.entries(baggage)) if (promoted.has(k)) this.attributes[k] = v;
  }

  get baggage(): Baggage {
    return this.currentBaggage;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  setAttribute(key: string, value: AttributeValue | null | undefined): this {
    if (!this.ended && value !== undefined && value !== null) this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    if (!this.ended) mergeAttributes(this.attributes, attributes);
    return this;
  }

  setBaggage(key: string, value: string): this {
    this.currentBaggage = { ...this.currentBaggage, [key]: value };
    if (this.promoted.has(key)) this.setAttribute(key, value);
    return this;
  }

  addLink(link: SpanLink): this {
    if (!this.ended) this.links.push({ traceId: link.traceId, spanId: link.spanId });
    return this;
  }

  recordError(err: unknown): this {
    if (this.ended) return this;
    const type = err instanceof Error ? err.constructor.name || err.name : typeof err;
    const message = err instanceof Error ? err.message : String(err);
    this.events.push({
      name: "exception",
      timeMs: this.clock(),
      attributes: { "exception.type": type, "exception.message": message },
    });
    this.attributes["error.type"] = type;
    return this.setStatus("error", message);
  }

  setStatus(code: SpanStatusCode, message?: string): this {
    // OpenTelemetry: setting Unset is ignored, and Ok is final.
    if (this.ended || code === "unset" || this.status.code === "ok") return this;
    this.status = code === "error" && message !== undefined ? { code, message } : { code };
    return this;
  }

  end(atMs?: number): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd({
      name: this.name,
      kind: this.kind,
      traceId: this.traceId,
      spanId: this.spanId,
      parentSpanId: this.parentSpanId,
      startMs: this.startMs,
      endMs: Math.max(this.startMs, atMs ?? this.clock()),
      attributes: { ...this.attributes },
      events: this.events,
      links: this.links,
      status: this.status,
    });
  }
}

const EMPTY: Baggage = Object.freeze({});

/** The span handed out when tracing is off: shared, immutable, free to call. */
export const NOOP_SPAN: Span = Object.freeze({
  recording: false,
  name: "",
  traceId: INVALID_TRACE_ID,
  spanId: INVALID_SPAN_ID,
  baggage: EMPTY,
  updateName() {
    return NOOP_SPAN;
  },
  setAttribute() {
    return NOOP_SPAN;
  },
  setAttributes() {
    return NOOP_SPAN;
  },
  setBaggage() {
    return NOOP_SPAN;
  },
  addLink() {
    return NOOP_SPAN;
  },
  recordError() {
    return NOOP_SPAN;
  },
  setStatus() {
    return NOOP_SPAN;
  },
  end() {},
}) as Span;
