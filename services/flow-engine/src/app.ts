import type { FastifyInstance } from 'fastify';
import { buildServiceApp, requireInternalIdentity, type ServiceTlsOptions } from '@flow8/http';
import type { Logger } from '@flow8/telemetry';
import type { Access } from './access';
import { registerExecutionRoutes } from './features/executions/executions.routes';
import type { ExecutionsService } from './features/executions/executions.service';
import { registerFlowRoutes } from './features/flows/flows.routes';
import type { FlowService } from './features/flows/flows.service';

/** The audience of the internal identity tokens the gateway mints for the engine. */
export const AUDIENCE = 'flow-engine';

/**
 * The engine's HTTP side: mutual TLS (client certificates from the stack's CA) and the probes.
 * Feature routes (flows, runs and history) register here, each behind the
 * certificate-then-internal-identity guard with `allowedCallers` and `identityPublicKeys`.
 */
export function buildApp(deps: {
  logger: Logger;
  tls: ServiceTlsOptions;
  allowedCallers: readonly string[];
  identityPublicKeys: Uint8Array[];
  readiness: Record<string, () => Promise<void>>;
  flows: FlowService;
  executions: Pick<ExecutionsService, 'startExecution' | 'cancelExecution' | 'getExecution'>;
  access: Access;
  pool: Parameters<typeof registerExecutionRoutes>[1]['pool'];
}): FastifyInstance {
  const app = buildServiceApp({
    service: 'flow-engine',
    logger: deps.logger,
    tls: deps.tls,
    readiness: deps.readiness,
  });
  const onRequest = requireInternalIdentity({
    audience: AUDIENCE,
    publicKeys: deps.identityPublicKeys,
    callers: deps.allowedCallers,
  });
  registerFlowRoutes(app, { flows: deps.flows, onRequest });
  registerExecutionRoutes(app, { pool: deps.pool, executions: deps.executions, access: deps.access, onRequest });
  return app;
}
