// Registers every route of the route table (@flow8/api ROUTES): its schemas — validation both ways,
// and the OpenAPI document generated from them — plus OpenAPI's summary, security and error
// responses, and a handler: a forward to the owning service unless the gateway answers it itself.
import type { FastifyInstance, RouteHandlerMethod } from 'fastify';
import { errors, ROUTES, routeKey, securityOf, type RouteSpec } from '@flow8/api';
import type { Target, Upstreams } from '../upstream/client';
import { forwardTo } from './forward';

/** Handlers for the routes the gateway does not simply forward as JSON, by `METHOD /path`. */
export type Handlers = Readonly<Record<string, RouteHandlerMethod>>;

/** The Fastify schema of a route: the table's schemas plus what the OpenAPI document needs. */
export function gatewaySchema(route: RouteSpec) {
  const response: Record<string, object> = {};
  for (const [status, schema] of Object.entries(route.schema.response)) {
    const description = route.responses?.[Number(status)];
    response[status] = description === undefined ? schema : { description, ...schema };
  }
  return {
    summary: route.summary,
    ...(route.description !== undefined ? { description: route.description } : {}),
    tags: [...(route.tags ?? [route.section])],
    security: securityOf(route.auth),
    ...(route.produces ? { produces: [...route.produces] } : {}),
    ...(route.schema.params ? { params: route.schema.params } : {}),
    ...(route.schema.querystring ? { querystring: route.schema.querystring } : {}),
    ...(route.schema.body ? { body: route.schema.body } : {}),
    response: { ...response, ...errors(...(route.errors ?? [])) },
  };
}

export function registerPublicRoutes(
  app: FastifyInstance,
  deps: { upstreams: Upstreams; handlers: Handlers; routes?: readonly RouteSpec[] },
): void {
  const routes = deps.routes ?? ROUTES;
  const known = new Set(routes.map(routeKey));
  for (const key of Object.keys(deps.handlers)) {
    if (!known.has(key)) throw new Error(`a gateway handler for ${key}, which is not in the route table`);
  }
  const forwards = new Map<Target, RouteHandlerMethod>();
  for (const route of routes) {
    let handler = deps.handlers[routeKey(route)];
    if (handler === undefined) {
      if (route.upstream === 'gateway') throw new Error(`${routeKey(route)} is the gateway's own, but has no handler`);
      const target = route.upstream;
      handler = forwards.get(target) ?? forwardTo(deps.upstreams, target);
      forwards.set(target, handler);
    }
    app.route({ method: route.method, url: route.path, schema: gatewaySchema(route), handler });
  }
}
