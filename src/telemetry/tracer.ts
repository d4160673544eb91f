import { type OtlpHttpExporterOptions, OtlpHttpJsonExporter, type SpanExporter } from "./exporter";
import { INVALID_TRACE_ID, randomSpanId, randomTraceId } from "./ids";
import type { TelemetrySettings } from "./settings";
import {
  type Attributes,
  type FinishedSpan,
  NOOP_SPAN,
  type ParentContext,
  RecordingSpan,
  type Span,
  type SpanKind,
  type SpanLink,
} from "./span";
import { formatBaggage, formatTraceparent, type TraceContext } from "./trace-context";

/** Baggage entries every span also carries as attributes (so a backend can filter spans by tenant). */
export const PROMOTED_BAGGAGE = ["tenant_id"] as const;

export interface StartSpanOptions {
  kind?: SpanKind;
  /** A local span or a remote parent (from a {@link TraceContext}); absent or `null` starts a new trace. */
  parent?: ParentContext | null;
  attributes?: Attributes;
  links?: SpanLink[];
  startMs?: number;
}

export interface TracerOptions {
  /** `null`: tracing is off and every span is the shared no-op span. */
  exporter: SpanExporter | null;
  /** Epoch milliseconds; `Date.now` by default. (In Workers the clock advances only across I/O.) */
  clock?: () => number;
  /** Most spans one tracer buffers before a flush; more are dropped (a runaway loop must not grow memory). */
  maxSpans?: number;
}

/**
 * Records the spans of one invocation (a request, an RPC call, a queue batch) and exports them in one batch
 * on {@link Tracer.flush}, which the entry point hands to `ctx.waitUntil` after answering: tracing adds no
 * latency. Context is passed explicitly (a parent span or {@link TraceScope}), not through AsyncLocalStorage,
 * so the Worker needs no `nodejs_compat` flag and a span's parent is visible in the code.
 */
export class Tracer {
  /** The tracer of a deployment without `OTEL_EXPORTER_OTLP_ENDPOINT`: records nothing, costs nothing. */
  static readonly disabled = new Tracer({ exporter: null });

  private finished: FinishedSpan[] = [];
  private readonly exporter: SpanExporter | null;
  private readonly clock: () => number;
  private readonly maxSpans: number;
  private readonly promoted: ReadonlySet<string> = new Set(PROMOTED_BAGGAGE);
  /** Spans dropped because the buffer was full. */
  dropped = 0;

  constructor(opts: TracerOptions) {
    this.exporter = opts.exporter;
    this.clock = opts.clock ?? Date.now;
    this.maxSpans = opts.maxSpans ?? 1000;
  }

  get enabled(): boolean {
    return this.exporter !== null;
  }

  /** Starts a span: a child of `parent` (same trace, its baggage), or the root of a new trace. */
  startSpan(name: string, opts: StartSpanOptions = {}): Span {
    if (this.exporter === null) return NOOP_SPAN;
    const parent = opts.parent && opts.parent.traceId !== INVALID_TRACE_ID ? opts.parent : null;
    const span = new RecordingSpan(
      name,
      opts.kind ?? "internal",
      parent?.traceId ?? randomTraceId(),
      randomSpanId(),
      parent?.spanId ?? null,
      parent?.baggage ?? {},
      opts.startMs ?? this.clock(),
      this.clock,
      this.promoted,
      (finished) => {
        if (this.finished.length < this.maxSpans) this.finished.push(finished);
        else this.dropped++;
      },
    );
    if (opts.attributes) span.setAttributes(opts.attributes);
    for (const link of opts.links ?? []) span.addLink(link);
    return span;
  }

  /** Runs `fn` inside a new span that ends when `fn` settles; a thrown error is recorded on it and rethrown. */
  async withSpan<T>(name: string, opts: StartSpanOptions, fn: (span: Span) => Promise<T> | T): Promise<T> {
    const span = this.startSpan(name, opts);
    try {
      return await fn(span);
    } catch (err) {
      span.recordError(err);
      throw err;
    } finally {
      span.end();
    }
  }

  /** Spans ended since the last flush, removed from the buffer. */
  takeFinished(): FinishedSpan[] {
    const spans = this.finished;
    this.finished = [];
    return spans;
  }

  /**
   * Exports every span ended so far in one request. Never rejects; resolves at once when tracing is off or
   * nothing ended. Spans still open are exported by a later flush.
   */
  flush(): Promise<void> {
    if (this.exporter === null || this.finished.length === 0) return Promise.resolve();
    return this.exporter.export(this.takeFinished());
  }
}

/** A tracer exporting over OTLP/HTTP to `settings.endpoint`, or {@link Tracer.disabled} when `settings` is `null`. */
export function createTracer(
  settings: TelemetrySettings | null,
  opts: Omit<OtlpHttpExporterOptions, "settings"> & Omit<TracerOptions, "exporter"> = {},
): Tracer {
  if (settings === null) return Tracer.disabled;
  const { clock, maxSpans, ...exporterOpts } = opts;
  return new Tracer({ exporter: new OtlpHttpJsonExporter({ settings, ...exporterOpts }), clock, maxSpans });
}

/** What code below an entry point needs to add child spans: the invocation's tracer and the current span. */
export interface TraceScope {
  readonly tracer: Tracer;
  readonly span: Span;
}

/**
 * The context to hand to another process (RPC argument, queue message) so it continues this span's trace;
 * `undefined` for the no-op span, so a deployment without tracing sends nothing extra.
 */
export function toTraceContext(span: ParentContext | null | undefined): TraceContext | undefined {
  if (!span || span.traceId === INVALID_TRACE_ID) return undefined;
  const traceparent = formatTraceparent(span.traceId, span.spanId);
  const baggage = formatBaggage(span.baggage);
  return baggage === undefined ? { traceparent } : { traceparent, baggage };
}

/**
 * Headers for an outgoing HTTP call made inside `span`: `traceparent` only. Baggage (the tenant id) stays
 * inside the service and is not sent to third parties such as the databases.
 */
export function traceHeaders(span: ParentContext | null | undefined): Record<string, string> {
  const ctx = toTraceContext(span);
  return ctx ? { traceparent: ctx.traceparent } : {};
}
