/**
 * OpenTelemetry traces of inference requests, configured by the standard `OTEL_*` variables.
 *
 * Off by default: without an OTLP exporter asked for, `createTracing` returns undefined and the
 * request path holds `undefined` — one check per stage, no span objects, no context work, and
 * the client's `traceparent` reaches the engine as the client sent it.
 *
 * On, each request is a server span continuing the caller's W3C trace context, with children
 * `route` (one per decision), `dispatch` (one per attempt, a client span whose context the
 * engine receives as its `traceparent`, replacing the client's) and `stream` (a streamed
 * answer, from the upstream's first byte to its end). Context is passed explicitly, not through
 * a global context manager: nothing outside this module sees it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace,
  type Attributes, type Context, type Span, type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter, type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export interface TracingOptions {
  /** Export every span to this exporter as it ends (tests: the SDK's InMemorySpanExporter), whatever the environment says. */
  exporter: SpanExporter;
}

/** What a request's server span says once it is answered (core/server/access-log.ts's record). */
export interface RequestSummary {
  status: number | string;
  error?: string;
  key?: string;
  backend?: string;
  reason?: string;
  promptTokens?: number;
  completionTokens?: number;
  ttftMs?: number;
}

const propagator = new W3CTraceContextPropagator();

/**
 * Tracing as the environment configures it, or undefined when it is off. On when
 * `OTEL_TRACES_EXPORTER` names `otlp`, or is unset while `OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; `OTEL_SDK_DISABLED=true` turns it off.
 * Spans go over OTLP/HTTP, protobuf unless `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` says
 * `http/json` (gRPC is refused); the exporter reads its endpoint, headers and timeout from
 * process.env itself; the batch processor reads `OTEL_BSP_*`, the sampler `OTEL_TRACES_SAMPLER`.
 */
export function createTracing(env: NodeJS.ProcessEnv, opts?: TracingOptions): Tracing | undefined {
  if (opts) return new Tracing([new SimpleSpanProcessor(opts.exporter)]);
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const name of exporters) {
    if (name !== 'otlp' && name !== 'none') throw new Error(`OTEL_TRACES_EXPORTER: expected \`otlp\` or \`none\`, got \`${name}\``);
  }
  const endpointSet = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const on = exporters.length === 0 ? endpointSet : exporters.includes('otlp');
  if (!on) return undefined;
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf').trim();
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL: expected \`http/protobuf\` or \`http/json\` (OTLP over HTTP, a collector's port 4318), got \`${protocol}\``);
  }
  return new Tracing([new BatchSpanProcessor(protocol === 'http/json' ? new OtlpJsonExporter() : new OtlpProtobufExporter())]);
}

export class Tracing {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;

  constructor(spanProcessors: SpanProcessor[]) {
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) override the default name.
    const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'switchyard' }).merge(detectResources({ detectors: [envDetector] }));
    this.provider = new BasicTracerProvider({ resource, spanProcessors });
    this.tracer = this.provider.getTracer('switchyard');
  }

  /** The server span of one request, continuing the trace of the client's `traceparent` when it sent one. */
  request(name: string, headers: IncomingHttpHeaders, attributes: Attributes): RequestTrace {
    const parent = propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    return new RequestTrace(this.tracer, span, trace.setSpan(parent, span));
  }

  /** Export what is buffered and stop (the gateway's drain). */
  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}

export class RequestTrace {
  /** Children not ended by their stage (a stage that threw): ended with the request. */
  private readonly open = new Set<Span>();

  constructor(private readonly tracer: Tracer, private readonly span: Span, private readonly context: Context) {}

  /** The decision of one attempt; `decided` ends it. */
  route(attempt: number): RouteTrace {
    return new RouteTrace(this.child('route', SpanKind.INTERNAL, { 'switchyard.attempt': attempt }), this.open);
  }

  /** One upstream attempt: the engine receives this span's context as its `traceparent`. */
  dispatch(backend: { id: string; engine: string }, attempt: number): DispatchTrace {
    const span = this.child('dispatch', SpanKind.CLIENT, { 'switchyard.backend': backend.id, 'switchyard.engine': backend.engine, 'switchyard.attempt': attempt });
    return new DispatchTrace(span, this.open);
  }

  /** A streamed answer, from the upstream's first byte to its end. */
  stream(backend: string): StreamTrace {
    return new StreamTrace(this.child('stream', SpanKind.INTERNAL, { 'switchyard.backend': backend }), this.open);
  }

  /** What the request came to (set once it is over, whichever way). */
  answered(s: RequestSummary): void {
    const attributes: Attributes = { 'switchyard.outcome': String(s.status) };
    if (typeof s.status === 'number') attributes['http.response.status_code'] = s.status;
    if (s.key !== undefined) attributes['switchyard.key_id'] = s.key;
    if (s.backend !== undefined) attributes['switchyard.backend'] = s.backend;
    if (s.reason !== undefined) attributes['switchyard.route.reason'] = s.reason;
    if (s.promptTokens !== undefined) attributes['gen_ai.usage.input_tokens'] = s.promptTokens;
    if (s.completionTokens !== undefined) attributes['gen_ai.usage.output_tokens'] = s.completionTokens;
    if (s.ttftMs !== undefined) attributes['switchyard.ttft_ms'] = s.ttftMs;
    this.span.setAttributes(attributes);
    if (s.error !== undefined) {
      this.span.setAttribute('error.type', s.error);
      if (typeof s.status !== 'number' || s.status >= 500) this.span.setStatus({ code: SpanStatusCode.ERROR, message: s.error });
    }
  }

  /** A request refused before it held a route (no summary was written). */
  refused(status: number, code: string): void {
    this.span.setAttributes({ 'http.response.status_code': status, 'error.type': code, 'switchyard.outcome': String(status) });
    if (status >= 500) this.span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  }

  end(): void {
    for (const child of this.open) child.end();
    this.open.clear();
    this.span.end();
  }

  private child(name: string, kind: SpanKind, attributes: Attributes): Span {
    const span = this.tracer.startSpan(name, { kind, attributes }, this.context);
    this.open.add(span);
    return span;
  }
}

abstract class ChildTrace {
  constructor(protected readonly span: Span, private readonly open: Set<Span>) {}

  protected end(): void {
    this.open.delete(this.span);
    this.span.end();
  }
}

export class RouteTrace extends ChildTrace {
  decided(backend: string, reason: string, policy: string): void {
    this.span.setAttributes({ 'switchyard.backend': backend, 'switchyard.route.reason': reason, 'switchyard.route.policy': policy });
    this.end();
  }

  /** No candidate was left to pick. */
  none(): void {
    this.span.setAttribute('switchyard.route.reason', 'none');
    this.end();
  }
}

export class DispatchTrace extends ChildTrace {
  /** The client's headers with this span's `traceparent` (and `tracestate`) in place of the client's. */
  headers(client: IncomingHttpHeaders): IncomingHttpHeaders {
    const out: IncomingHttpHeaders = { ...client };
    delete out.traceparent;
    delete out.tracestate;
    propagator.inject(trace.setSpan(ROOT_CONTEXT, this.span), out, defaultTextMapSetter);
    return out;
  }

  /** The upstream answered with this status; `code` is the gateway's error code for a failed one. */
  answered(status: number, code?: string): void {
    this.span.setAttribute('http.response.status_code', status);
    if (status >= 400) this.fail(code ?? String(status));
    this.end();
  }

  /** The attempt failed before any status (connect, timeout, the client went away). */
  failed(code: string, err?: unknown): void {
    if (err instanceof Error) this.span.recordException(err);
    this.fail(code);
    this.end();
  }

  private fail(code: string): void {
    this.span.setAttribute('error.type', code);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  }
}

export class StreamTrace extends ChildTrace {
  firstToken(): void {
    this.span.addEvent('first_token');
  }

  /** How the stream ended (`done`, `client-gone`, `upstream-failed`…), with its counts. */
  ended(end: string, s: { ttftMs?: number; contentEvents: number; promptTokens?: number; completionTokens?: number }): void {
    const attributes: Attributes = { 'switchyard.stream.end': end, 'switchyard.stream.content_events': s.contentEvents };
    if (s.ttftMs !== undefined) attributes['switchyard.ttft_ms'] = s.ttftMs;
    if (s.promptTokens !== undefined) attributes['gen_ai.usage.input_tokens'] = s.promptTokens;
    if (s.completionTokens !== undefined) attributes['gen_ai.usage.output_tokens'] = s.completionTokens;
    this.span.setAttributes(attributes);
    if (end !== 'done' && end !== 'client-gone') this.span.setStatus({ code: SpanStatusCode.ERROR, message: end });
    this.end();
  }
}
