// HTTP server metrics: request rate, errors and latency, by method, route pattern and status
// class. The route is Fastify's pattern (`/v1/users/:id`), never the URL: a URL carries ids and
// query strings, and one label value per id would make the series count unbounded.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { counter, histogram } from '@flow8/telemetry';

const LABELS = ['method', 'route', 'status_class'] as const;

export const httpServerRequests = counter('http_server_requests', {
  description: 'HTTP requests answered, by method, route pattern and status class',
  unit: '{request}',
  labels: LABELS,
});

export const httpServerDuration = histogram('http_server_duration_seconds', {
  description: 'Time from receiving an HTTP request to sending its response, in seconds',
  unit: 's',
  labels: LABELS,
});

/** Requests that matched no route (404s, scanners) share one label value. */
export const UNMATCHED_ROUTE = 'unmatched';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The label values of one answered request. Exported for tests. */
export function requestLabels(
  method: string,
  route: string | undefined,
  statusCode: number,
): { method: string; route: string; status_class: string } {
  return {
    // A client may send any method token; only the known ones become label values.
    method: METHODS.has(method) ? method : '_OTHER',
    route: route ?? UNMATCHED_ROUTE,
    status_class: statusCode >= 100 && statusCode < 600 ? `${Math.floor(statusCode / 100)}xx` : 'other',
  };
}

/** The pattern of the matched route; the not-found handler has none. */
function routeOf(request: FastifyRequest): string | undefined {
  return request.is404 ? undefined : request.routeOptions.url;
}

function record(request: FastifyRequest, reply: FastifyReply): void {
  const labels = requestLabels(request.method, routeOf(request), reply.statusCode);
  httpServerRequests.add(1, labels);
  httpServerDuration.record(reply.elapsedTime / 1000, labels);
}

export function installHttpMetrics(app: FastifyInstance): void {
  app.addHook('onResponse', (request, reply, done) => {
    record(request, reply);
    done();
  });
  // A client that hangs up before the response is neither a success nor a server error; it is
  // counted in its own class so the error ratio is not skewed either way.
  app.addHook('onRequestAbort', (request, done) => {
    const labels = { ...requestLabels(request.method, routeOf(request), 0), status_class: 'aborted' };
    httpServerRequests.add(1, labels);
    done();
  });
}
