import type { FastifyInstance } from 'fastify';
import { buildServiceApp, type ServiceTlsOptions } from '@flow8/http';
import type { Logger } from '@flow8/telemetry';

/**
 * The engine's HTTP side: mutual TLS (client certificates from the stack's CA) and the probes.
 * Feature routes (flows; executions, approvals and triggers later) register here, each behind the
 * certificate-then-internal-identity guard with `allowedCallers` and `identityPublicKeys`.
 */
export function buildApp(deps: {
  logger: Logger;
  tls: ServiceTlsOptions;
  allowedCallers: readonly string[];
  identityPublicKeys: Uint8Array[];
  readiness: Record<string, () => Promise<void>>;
}): FastifyInstance {
  return buildServiceApp({
    service: 'flow-engine',
    logger: deps.logger,
    tls: deps.tls,
    readiness: deps.readiness,
  });
}
