import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanKind,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/**
 * The helpers below use this propagator directly instead of the global one, so
 * trace context crosses HTTP and Kafka the same way whether or not startTelemetry
 * ran (unit tests of bus/http need not start the SDK to check their headers).
 */
const propagator = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});

export interface TelemetryOptions {
  serviceName: string;
  /**
   * OTLP/HTTP base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT), e.g. `http://collector:4318`.
   * `/v1/traces` is appended unless the path already ends with it, as the OTel spec says.
   */
  otlpEndpoint?: string;
  /** `parent` (default) follows the caller's sampling decision; roots are always sampled. */
  sampler?: 'always' | 'parent';
  /** Used when there is no otlpEndpoint; spans are exported one by one (SimpleSpanProcessor). */
  exporter?: SpanExporter;
}

export interface TelemetryHandle {
  /** Flushes pending spans, then unregisters the globals if this is still the active registration. */
  shutdown(): Promise<void>;
  provider: NodeTracerProvider;
}

let active: TelemetryHandle | undefined;

export function tracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (!url.pathname.replace(/\/+$/, '').endsWith('/v1/traces')) {
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  }
  return url.toString();
}

/**
 * Registers a NodeTracerProvider globally: AsyncLocalStorage context manager,
 * W3C trace-context + baggage propagation. Call first thing in main.ts.
 *
 * Calling it again (tests do) does not throw: the new provider replaces the old
 * one as the global registration and the old provider is flushed and shut down.
 */
export function startTelemetry(opts: TelemetryOptions): TelemetryHandle {
  const processors: SpanProcessor[] = [];
  if (opts.otlpEndpoint) {
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(opts.otlpEndpoint) })));
  } else if (opts.exporter) {
    processors.push(new SimpleSpanProcessor(opts.exporter));
  }
  // With no processor spans are still created (and sampled), so traceparent still propagates.

  const root = new AlwaysOnSampler();
  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.serviceName })),
    sampler: opts.sampler === 'always' ? root : new ParentBasedSampler({ root }),
    spanProcessors: processors,
  });

  const previous = active;
  let previousShutdown: Promise<void> = Promise.resolve();
  if (previous) {
    // The API refuses to overwrite a registered global; clear it first.
    unregisterGlobals();
    previousShutdown = previous.shutdown().catch(() => undefined);
  }
  // contextManager left undefined: sdk-trace-node then installs AsyncLocalStorageContextManager.
  provider.register({ propagator });

  let done: Promise<void> | undefined;
  const handle: TelemetryHandle = {
    provider,
    shutdown() {
      done ??= (async () => {
        await previousShutdown;
        try {
          await provider.shutdown();
        } finally {
          if (active === handle) {
            unregisterGlobals();
            active = undefined;
          }
        }
      })();
      return done;
    },
  };
  active = handle;
  return handle;
}

function unregisterGlobals(): void {
  trace.disable();
  context.disable();
  propagation.disable();
}

export function getTracer(name = 'flow8'): Tracer {
  return trace.getTracer(name);
}

export interface WithSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Defaults to the active context; pass extractTraceContext(headers) for a consumer or server span. */
  parent?: Context;
}

/**
 * Runs `fn` inside a new active span. A throw records the exception, sets ERROR
 * status and rethrows; the span always ends.
 */
export async function withSpan<T>(name: string, opts: WithSpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = opts.parent ?? context.active();
  const span = getTracer().startSpan(name, { kind: opts.kind, attributes: opts.attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (e) {
    if (e instanceof Error || (typeof e === 'object' && e !== null && 'message' in e)) {
      span.recordException(e as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
    } else {
      // Stringifying an arbitrary thrown value could copy data into the trace; say what kind it was.
      span.recordException({ name: 'NonErrorThrown', message: `thrown ${typeof e}` });
      span.setStatus({ code: SpanStatusCode.ERROR, message: `thrown ${typeof e}` });
    }
    throw e;
  } finally {
    span.end();
  }
}

/** Adds `traceparent` (and `tracestate`/`baggage` when present) for the active or given context. */
export function injectTraceHeaders(carrier: Record<string, string>, ctx?: Context): Record<string, string> {
  propagator.inject(ctx ?? context.active(), carrier, {
    set(c, key, value) {
      c[key] = value;
    },
  });
  return carrier;
}

export type HeaderValue = string | Buffer | (string | Buffer)[] | undefined;

const headerGetter: TextMapGetter<Record<string, HeaderValue>> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    // Node lower-cases HTTP header names; Kafka keeps what the producer wrote.
    let raw = carrier[key];
    if (raw === undefined) {
      const found = Object.keys(carrier).find((k) => k.toLowerCase() === key);
      raw = found === undefined ? undefined : carrier[found];
    }
    if (raw === undefined) return undefined;
    if (Array.isArray(raw)) return raw.map(decode);
    return decode(raw);
  },
};

function decode(v: string | Buffer): string {
  return typeof v === 'string' ? v : v.toString('utf8');
}

/**
 * The context carried by HTTP or Kafka headers (Kafka gives Buffers). Starts from
 * the root context, so headers without a traceparent begin a new trace instead of
 * inheriting whatever happens to be active in the consumer loop.
 */
export function extractTraceContext(carrier: Record<string, HeaderValue>): Context {
  return propagator.extract(ROOT_CONTEXT, carrier, headerGetter);
}

/** The W3C traceparent of the active span, e.g. for the event envelope; undefined outside a span. */
export function currentTraceparent(): string | undefined {
  return injectTraceHeaders({}).traceparent;
}

/** `{ trace_id, span_id }` of the active span, or `{}` outside one. Used by the logger mixin. */
export function activeTraceIds(): { trace_id?: string; span_id?: string } {
  const sc = trace.getSpan(context.active())?.spanContext();
  if (!sc || !trace.isSpanContextValid(sc)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId };
}
