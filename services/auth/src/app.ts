import type { FastifyInstance } from 'fastify';
import { buildServiceApp, type ServiceTlsOptions } from '@flow8/http';
import type { Logger } from '@flow8/telemetry';
import { tenantRoutes } from './features/tenants/tenants.routes';
import type { TenantService } from './features/tenants/tenants.service';
import { userRoutes } from './features/users/users.routes';
import type { UserService } from './features/users/users.service';

export function buildApp(deps: {
  logger: Logger;
  tls: ServiceTlsOptions;
  tenants: TenantService;
  users: UserService;
  allowedCallers: readonly string[];
  readiness: Record<string, () => Promise<void>>;
}): FastifyInstance {
  const app = buildServiceApp({ service: 'auth', logger: deps.logger, tls: deps.tls, readiness: deps.readiness });
  tenantRoutes(app, { tenants: deps.tenants });
  userRoutes(app, { users: deps.users, allowedCallers: deps.allowedCallers });
  return app;
}
