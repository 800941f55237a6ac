// API for the engine (service.ts wires it): registerFlowRoutes(app, { flows, onRequest })
//   flows: createFlowService({ pool, outbox, clock, authorize, compileOptions? })
//   onRequest: the certificate-then-internal-identity guard (request.principal set by it).
// Internal routes, reached through the gateway with the caller's signed internal identity:
//   POST /v1/flows                         create (version 1, draft)          flows:write
//   GET  /v1/flows                         list (cursor pages)                flows:read
//   GET  /v1/flows/:id                     one flow                           flows:read
//   POST /v1/flows/:id/versions            save a new immutable version       flows:write
//   GET  /v1/flows/:id/versions            versions, newest first             flows:read
//   GET  /v1/flows/:id/versions/:version   one version with its definition    flows:read
//   POST /v1/flows/:id/publish {version}   publish a version                  flows:write
//   POST /v1/flows/:id/archive             archive                            flows:write
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  archiveSchema,
  createFlowSchema,
  getFlowSchema,
  getVersionSchema,
  listFlowsSchema,
  listVersionsSchema,
  publishSchema,
  saveVersionSchema,
} from './flows.schemas';
import { callerOf } from '../../access';
import type { FlowService } from './flows.service';

type IdParams = { id: string };

export function registerFlowRoutes(
  app: FastifyInstance,
  deps: { flows: FlowService; onRequest: (req: FastifyRequest) => Promise<void> },
): void {
  const { flows, onRequest } = deps;

  app.post('/v1/flows', { schema: createFlowSchema, onRequest }, async (req, reply) =>
    reply.code(201).send(await flows.create(callerOf(req), req.body)),
  );
  app.get('/v1/flows', { schema: listFlowsSchema, onRequest }, async (req) =>
    flows.list(callerOf(req), req.query as { limit: number; cursor?: string }),
  );
  app.get('/v1/flows/:id', { schema: getFlowSchema, onRequest }, async (req) =>
    flows.get(callerOf(req), (req.params as IdParams).id),
  );
  app.post('/v1/flows/:id/versions', { schema: saveVersionSchema, onRequest }, async (req, reply) =>
    reply.code(201).send(await flows.saveVersion(callerOf(req), (req.params as IdParams).id, req.body)),
  );
  app.get('/v1/flows/:id/versions', { schema: listVersionsSchema, onRequest }, async (req) => ({
    items: await flows.versions(callerOf(req), (req.params as IdParams).id),
  }));
  app.get('/v1/flows/:id/versions/:version', { schema: getVersionSchema, onRequest }, async (req) => {
    const { id, version } = req.params as { id: string; version: number };
    return flows.version(callerOf(req), id, version);
  });
  app.post('/v1/flows/:id/publish', { schema: publishSchema, onRequest }, async (req) =>
    flows.publish(callerOf(req), (req.params as IdParams).id, (req.body as { version: number }).version),
  );
  app.post('/v1/flows/:id/archive', { schema: archiveSchema, onRequest }, async (req) =>
    flows.archive(callerOf(req), (req.params as IdParams).id),
  );
}
