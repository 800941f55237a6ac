import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

// The tracer is looked up through the global API, so whatever provider @flow8/telemetry
// registers at start-up is used; with none registered every span is a cheap no-op.
const TRACER_NAME = '@flow8/http';

interface RequestTrace {
  span: Span;
  ended: boolean;
}

const traces = new WeakMap<FastifyRequest, RequestTrace>();

function pathOf(url: string): string {
  // Query strings carry things like OAuth codes; spans get the path only.
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** The server span of a request, if tracing saw it (for handlers that want to annotate it). */
export function requestSpan(request: FastifyRequest): Span | undefined {
  return traces.get(request)?.span;
}

/** Marks the request's span as failed with the exception; called for 5xx outcomes. */
export function recordServerError(request: FastifyRequest, err: unknown): void {
  const t = traces.get(request);
  if (!t) return;
  if (err instanceof Error) t.span.recordException(err);
  t.span.setStatus({ code: SpanStatusCode.ERROR });
}

function finish(request: FastifyRequest, reply: FastifyReply): void {
  const t = traces.get(request);
  if (!t || t.ended) return;
  t.ended = true;
  const status = reply.statusCode;
  t.span.setAttribute('http.response.status_code', status);
  if (status >= 500) t.span.setStatus({ code: SpanStatusCode.ERROR });
  t.span.end();
}

/**
 * One SERVER span per request, continuing the caller's W3C trace context.
 *
 * How handlers end up inside the span's context: Fastify runs a route's hook chain and its
 * handler from each hook's `done` callback, so calling `done` inside
 * `context.with(spanContext, …)` makes everything after it (and every promise created from
 * there) inherit the context. Body parsing does not break this: Fastify runs the content-type
 * parser in an AsyncResource created at that point, so the callbacks fired by later socket
 * packets resume in the same context (tracing.test.ts sends a body in two packets to keep
 * that true). The hook is added on the root instance before any route exists, so it runs
 * first for every route, including the 404 handler.
 */
export function installTracing(app: FastifyInstance): void {
  const tracer = trace.getTracer(TRACER_NAME);

  app.addHook('onRequest', (request, _reply, done) => {
    // The remote parent alone defines the trace: a server entry point must not attach to
    // whatever context happens to be active in-process.
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const route = request.routeOptions.url;
    const span = tracer.startSpan(
      route ? `${request.method} ${route}` : request.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'url.path': pathOf(request.url),
          ...(route ? { 'http.route': route } : {}),
          'flow8.request_id': request.id,
        },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    traces.set(request, { span, ended: false });
    context.with(ctx, done);
  });

  app.addHook('onResponse', (request, reply, done) => {
    finish(request, reply);
    done();
  });

  app.addHook('onRequestAbort', (request, done) => {
    const t = traces.get(request);
    if (t && !t.ended) {
      t.ended = true;
      t.span.setAttribute('flow8.request.aborted', true);
      t.span.end();
    }
    done();
  });
}
