import { z } from "zod";
import { encodeTraceRequest } from "./otlp-json";
import type { TelemetrySettings } from "./settings";
import type { AttributeValue, FinishedSpan } from "./span";

/** Where finished spans go. `export` never rejects: telemetry must not fail a request. */
export interface SpanExporter {
  export(spans: readonly FinishedSpan[]): Promise<void>;
}

/** `{endpoint}/v1/traces` (the OpenTelemetry rule for `OTEL_EXPORTER_OTLP_ENDPOINT`: append the signal path). */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, "")}/v1/traces`;
}

export interface OtlpHttpExporterOptions {
  settings: TelemetrySettings;
  /** Extra resource attributes besides `service.name` (e.g. `deployment.environment.name`). */
  resource?: Record<string, AttributeValue>;
  /** Called with a description of each failed export (no URL credentials, no headers). Default: ignore. */
  onError?: (message: string) => void;
  /** Test seam; the global `fetch` by default. */
  fetch?: typeof fetch;
  /** Gives up on one export after this long (default 10 s; a Worker's `waitUntil` allows 30 s). */
  timeoutMs?: number;
}

/**
 * OTLP/HTTP with JSON bodies (`content-type: application/json`), one POST per flush. JSON rather than protobuf:
 * no protobuf runtime in the Worker bundle, and every OTLP/HTTP receiver must accept both.
 */
export class OtlpHttpJsonExporter implements SpanExporter {
  readonly url: string;
  private readonly resource: Record<string, AttributeValue>;
  private readonly headers: Record<string, string>;
  private readonly onError: (message: string) => void;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;

  constructor(opts: OtlpHttpExporterOptions) {
    this.url = tracesUrl(opts.settings.endpoint);
    this.resource = { "service.name": opts.settings.serviceName, ...opts.resource };
    this.headers = { ...opts.settings.headers, "content-type": "application/json" };
    this.onError = opts.onError ?? (() => {});
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async export(spans: readonly FinishedSpan[]): Promise<void> {
    if (spans.length === 0) return;
    try {
      const res = await this.fetchFn(this.url, {
        method: "POST",
        headers: this.headers,
        body: JSON.stringify(encodeTraceRequest(spans, this.resource)),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      // Read the body so the connection can be reused (and the runtime does not warn about it).
      const text = await res.text();
      if (!res.ok) {
        this.onError(`OTLP export of ${spans.length} spans: HTTP ${res.status} ${text.slice(0, 200)}`);
      } else {
        const rejected = rejectedSpans(text);
        if (rejected > 0) this.onError(`OTLP export: the receiver rejected ${rejected} of ${spans.length} spans`);
      }
    } catch (err) {
      this.onError(`OTLP export of ${spans.length} spans failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** The parts of an OTLP/JSON `ExportTraceServiceResponse` we read (int64 arrives as a string or a number). */
const exportAnswerSchema = z.object({
  partialSuccess: z.object({ rejectedSpans: z.union([z.string(), z.number()]).optional() }).optional(),
});

/** `partialSuccess.rejectedSpans` of an OTLP/JSON answer (0 when absent or not JSON). */
function rejectedSpans(body: string): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 0;
  }
  const answer = exportAnswerSchema.safeParse(parsed);
  return answer.success ? Number(answer.data.partialSuccess?.rejectedSpans ?? 0) || 0 : 0;
}
