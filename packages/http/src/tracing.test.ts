import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { request as httpRequest } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { type CallOptions, listenForTest, type TestResponse } from './__fixtures__/client';
import { captureLogs } from './__fixtures__/logs';
import { buildServiceApp } from './app';
import { AppError } from './errors';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
// register() also installs the AsyncLocalStorage context manager, as @flow8/telemetry will.
provider.register();

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_SPAN_ID}-01`;

interface Seen {
  traceId?: string;
  spanId?: string;
}

let app: FastifyInstance;
let baseUrl: string;
let call: (opts: CallOptions) => Promise<TestResponse>;
const seen: Seen[] = [];

beforeAll(async () => {
  app = buildServiceApp({ service: 'trace-svc', logger: captureLogs().logger });
  app.post<{ Params: { id: string } }>(
    '/items/:id',
    { schema: { body: { type: 'object', properties: { n: { type: 'integer' } } } } },
    async () => {
      // After an await, the way real handlers reach the database.
      await new Promise((resolve) => setImmediate(resolve));
      const ctx = trace.getActiveSpan()?.spanContext();
      seen.push({ traceId: ctx?.traceId, spanId: ctx?.spanId });
      await trace.getTracer('test').startActiveSpan('db.query', async (span) => {
        await new Promise((resolve) => setImmediate(resolve));
        span.end();
      });
      return { ok: true };
    },
  );
  app.get('/fail', async () => {
    throw new Error('connection reset by peer');
  });
  app.get('/conflict', async () => {
    throw new AppError('CONFLICT', 'already exists');
  });
  ({ call, url: baseUrl } = await listenForTest(app));
});

afterAll(async () => {
  await app.close();
  await provider.shutdown();
});

beforeEach(() => {
  exporter.reset();
  seen.length = 0;
});

async function spansWhenEnded(count: number): Promise<ReadableSpan[]> {
  // onResponse (where the server span ends) runs just after the client has the response.
  for (let i = 0; i < 100 && exporter.getFinishedSpans().length < count; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return exporter.getFinishedSpans();
}

function serverSpan(spans: ReadableSpan[]): ReadableSpan {
  const found = spans.find((s) => s.kind === SpanKind.SERVER);
  if (!found) throw new Error(`no server span among ${spans.map((s) => s.name).join(', ')}`);
  return found;
}

describe('server spans', () => {
  it('continues an incoming traceparent and runs the handler (after body parsing) inside the span', async () => {
    const res = await call({
      method: 'POST',
      url: '/items/itm_1?token=query-secret',
      headers: { traceparent: TRACEPARENT },
      payload: { n: 1 },
    });
    expect(res.statusCode).toBe(200);

    const spans = await spansWhenEnded(2);
    const server = serverSpan(spans);
    expect(server.spanContext().traceId).toBe(TRACE_ID);
    expect(server.parentSpanContext?.spanId).toBe(PARENT_SPAN_ID);
    expect(server.name).toBe('POST /items/:id');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/items/:id',
      'http.response.status_code': 200,
      'url.path': '/items/itm_1',
    });
    expect(JSON.stringify(server.attributes)).not.toContain('query-secret');
    expect(server.status.code).not.toBe(SpanStatusCode.ERROR);

    // the handler saw the server span as active, so its own spans are children of it
    expect(seen).toEqual([{ traceId: TRACE_ID, spanId: server.spanContext().spanId }]);
    const child = spans.find((s) => s.name === 'db.query');
    expect(child?.spanContext().traceId).toBe(TRACE_ID);
    expect(child?.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
  });

  it('keeps the context when the body arrives in several packets', async () => {
    // A body that arrives later is delivered by socket events; the handler must still run
    // in the span's context (Fastify binds body parsing to the request's async context).
    const target = new URL(baseUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: '/items/itm_slow',
          agent: false,
          headers: { traceparent: TRACEPARENT, 'content-type': 'application/json', 'content-length': '7' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.flushHeaders();
      req.write('{"n":');
      setTimeout(() => req.end('1}'), 50);
    });
    expect(status).toBe(200);
    const server = serverSpan(await spansWhenEnded(2));
    expect(seen).toEqual([{ traceId: TRACE_ID, spanId: server.spanContext().spanId }]);
  });

  it('starts a new trace when no traceparent is sent', async () => {
    await call({ method: 'POST', url: '/items/itm_2', payload: {} });
    const server = serverSpan(await spansWhenEnded(2));
    expect(server.spanContext().traceId).not.toBe(TRACE_ID);
    expect(server.parentSpanContext).toBeUndefined();
  });

  it('marks a 5xx as ERROR with the exception recorded', async () => {
    const res = await call({ url: '/fail', headers: { traceparent: TRACEPARENT } });
    expect(res.statusCode).toBe(500);
    const server = serverSpan(await spansWhenEnded(1));
    expect(server.status.code).toBe(SpanStatusCode.ERROR);
    expect(server.attributes['http.response.status_code']).toBe(500);
    expect(server.events.some((e) => e.name === 'exception')).toBe(true);
  });

  it('does not mark a 4xx as ERROR on the server span', async () => {
    const res = await call({ url: '/conflict' });
    expect(res.statusCode).toBe(409);
    const server = serverSpan(await spansWhenEnded(1));
    expect(server.status.code).toBe(SpanStatusCode.UNSET);
    expect(server.attributes['http.response.status_code']).toBe(409);
  });

  it('names an unmatched request by method only (no unbounded span names)', async () => {
    await call({ url: '/random/path/123' });
    const server = serverSpan(await spansWhenEnded(1));
    expect(server.name).toBe('GET');
    expect(server.attributes['http.route']).toBeUndefined();
    expect(server.attributes['http.response.status_code']).toBe(404);
  });
});
