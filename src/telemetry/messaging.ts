import type { ParentContext, Span } from "./span";
import { parseTraceContext, type TraceContext } from "./trace-context";
import type { Tracer } from "./tracer";

/** `messaging.system` of Cloudflare Queues (not in the OpenTelemetry registry; named like its entries). */
export const QUEUE_SYSTEM = "cloudflare_queues";

/**
 * The producer span of one hand-off to a queue (`send <queue>`), a child of the request that caused it. Each
 * message sent under it carries `toTraceContext(span)`, so the consumer continues the same trace.
 */
export function startQueueSendSpan(tracer: Tracer, queue: string, parent: ParentContext | null): Span {
  return tracer.startSpan(`send ${queue}`, {
    kind: "producer",
    parent,
    attributes: {
      "messaging.system": QUEUE_SYSTEM,
      "messaging.operation.type": "send",
      "messaging.destination.name": queue,
    },
  });
}

/**
 * The consumer span for a group of messages handled together (`process <queue>`). Its parent is the first
 * message's producer span; the other messages' producer spans (often other requests' traces) become links, as
 * OpenTelemetry's messaging conventions do for batches. Messages without (valid) context are counted only.
 */
export function startQueueProcessSpan(
  tracer: Tracer,
  queue: string,
  messages: ReadonlyArray<TraceContext | undefined>,
): Span {
  const parents = messages.map((m) => parseTraceContext(m)).filter((p) => p !== null);
  const [first, ...rest] = parents;
  const span = tracer.startSpan(`process ${queue}`, {
    kind: "consumer",
    parent: first ?? null,
    attributes: {
      "messaging.system": QUEUE_SYSTEM,
      "messaging.operation.type": "process",
      "messaging.destination.name": queue,
      "messaging.batch.message_count": messages.length,
    },
  });
  const seen = new Set(first ? [first.spanId] : []);
  for (const p of rest) {
    if (seen.has(p.spanId)) continue;
    seen.add(p.spanId);
    span.addLink({ traceId: p.traceId, spanId: p.spanId });
  }
  return span;
}
