import type { FastifyInstance } from 'fastify';
import { buildServiceApp, type ServiceTlsOptions } from '@flow8/http';
import type { Logger } from '@flow8/telemetry';
import { allowlistRoutes } from './features/allowlist/allowlist.routes';
import type { AllowlistService } from './features/allowlist/allowlist.service';
import { grantRoutes } from './features/grants/grants.routes';
import type { GrantService } from './features/grants/grants.service';
import { sessionRoutes } from './features/sessions/sessions.routes';
import type { SessionService } from './features/sessions/sessions.service';
import { tenantRoutes } from './features/tenants/tenants.routes';
import type { TenantService } from './features/tenants/tenants.service';
import { userRoutes } from './features/users/users.routes';
import type { UserService } from './features/users/users.service';
import type { Guards } from './guards';

export function buildApp(deps: {
  logger: Logger;
  tls: ServiceTlsOptions;
  guards: Guards;
  allowedCallers: readonly string[];
  tenants: TenantService;
  users: UserService;
  sessions: SessionService;
  grants: GrantService;
  allowlist: AllowlistService;
  /** Features that register their own routes (the API-key feature). */
  extraRoutes?: ReadonlyArray<(app: FastifyInstance) => void>;
  readiness: Record<string, () => Promise<void>>;
}): FastifyInstance {
  const app = buildServiceApp({ service: 'auth', logger: deps.logger, tls: deps.tls, readiness: deps.readiness });
  const { guards } = deps;
  tenantRoutes(app, { tenants: deps.tenants, guards, allowedCallers: deps.allowedCallers });
  userRoutes(app, { users: deps.users, guards });
  sessionRoutes(app, { sessions: deps.sessions, guards });
  grantRoutes(app, { grants: deps.grants, guards });
  allowlistRoutes(app, { allowlist: deps.allowlist, guards });
  for (const register of deps.extraRoutes ?? []) register(app);
  return app;
}
