import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import {
  currentTraceparent,
  extractTraceContext,
  injectTraceHeaders,
  SpanKind,
  SpanStatusCode,
  startTelemetry,
  trace,
  withSpan,
  type TelemetryHandle,
} from './index';
import { tracesUrl } from './tracing';

const exporter = new InMemorySpanExporter();
let telemetry: TelemetryHandle;

beforeAll(() => {
  telemetry = startTelemetry({ serviceName: 'tracing-test', exporter });
});
afterAll(() => telemetry.shutdown());
beforeEach(() => exporter.reset());

describe('withSpan', () => {
  it('ends the span with ERROR status and the exception recorded, and rethrows', async () => {
    await expect(
      withSpan('flow.execute', { kind: SpanKind.INTERNAL, attributes: { 'flow8.flow_id': 'flw_1' } }, async () => {
        throw new Error('step failed');
      }),
    ).rejects.toThrow('step failed');
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('flow.execute');
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'step failed' });
    expect(span?.attributes['flow8.flow_id']).toBe('flw_1');
    expect(span?.events.map((e) => [e.name, e.attributes?.['exception.message']])).toEqual([
      ['exception', 'step failed'],
    ]);
    expect(span?.resource.attributes['service.name']).toBe('tracing-test');
  });

  it('returns the result, leaves status unset on success and nests child spans', async () => {
    const result = await withSpan('parent', {}, async () => withSpan('child', {}, async () => 42));
    expect(result).toBe(42);
    const spans = exporter.getFinishedSpans();
    const parent = spans.find((s) => s.name === 'parent');
    const child = spans.find((s) => s.name === 'child');
    expect(parent?.status.code).toBe(SpanStatusCode.UNSET);
    expect(child?.spanContext().traceId).toBe(parent?.spanContext().traceId);
    expect(child?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
  });
});

describe('trace headers', () => {
  it('round-trips through Kafka-style Buffer headers: the consumer span joins the producer trace', async () => {
    const headers: Record<string, Buffer> = {};
    const producerTraceId = await withSpan('publish', { kind: SpanKind.PRODUCER }, async (span) => {
      const h = injectTraceHeaders({});
      expect(h.traceparent).toBe(currentTraceparent());
      for (const [k, v] of Object.entries(h)) headers[k] = Buffer.from(v);
      return span.spanContext().traceId;
    });

    const parent = extractTraceContext(headers);
    expect(trace.getSpanContext(parent)?.traceId).toBe(producerTraceId);
    const consumerTraceId = await withSpan(
      'consume',
      { kind: SpanKind.CONSUMER, parent },
      async (span) => span.spanContext().traceId,
    );
    expect(consumerTraceId).toBe(producerTraceId);
  });

  it('reads array values and mixed-case header names', () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const ctx = extractTraceContext({ Traceparent: [Buffer.from(traceparent)], tracestate: 'vendor=1' });
    const sc = trace.getSpanContext(ctx);
    expect(sc?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(sc?.traceState?.get('vendor')).toBe('1');
    expect(injectTraceHeaders({}, ctx)).toEqual({ traceparent, tracestate: 'vendor=1' });
  });

  it('yields no parent for missing or malformed headers, and nothing to inject outside a span', () => {
    expect(trace.getSpanContext(extractTraceContext({}))).toBeUndefined();
    expect(trace.getSpanContext(extractTraceContext({ traceparent: Buffer.from('garbage') }))).toBeUndefined();
    expect(currentTraceparent()).toBeUndefined();
    expect(injectTraceHeaders({ keep: 'me' })).toEqual({ keep: 'me' });
  });
});

describe('startTelemetry', () => {
  it('can be called again: the newest registration receives the spans', async () => {
    const second = new InMemorySpanExporter();
    const again = startTelemetry({ serviceName: 'second', exporter: second });
    try {
      await withSpan('after-restart', {}, async () => undefined);
      expect(second.getFinishedSpans().map((s) => s.name)).toEqual(['after-restart']);
    } finally {
      await again.shutdown();
      // restore the suite's registration for any later test
      telemetry = startTelemetry({ serviceName: 'tracing-test', exporter });
    }
  });

  it('still creates and propagates spans without any exporter', async () => {
    const bare = startTelemetry({ serviceName: 'bare' });
    try {
      const tp = await withSpan('x', {}, async () => currentTraceparent());
      expect(tp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    } finally {
      await bare.shutdown();
      telemetry = startTelemetry({ serviceName: 'tracing-test', exporter });
    }
  });

  it('appends /v1/traces to an OTLP base endpoint only when missing', () => {
    expect(tracesUrl('http://collector:4318')).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl('http://collector:4318/')).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl('https://c.example/otlp/v1/traces')).toBe('https://c.example/otlp/v1/traces');
  });
});
