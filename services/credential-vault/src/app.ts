import type { FastifyInstance } from 'fastify';
import { buildServiceApp, type ServiceTlsOptions } from '@flow8/http';
import type { Logger } from '@flow8/telemetry';
import { credentialRoutes } from './features/credentials/credentials.routes';
import type { CredentialService } from './features/credentials/credentials.service';
import { fieldRoutes } from './features/fields/fields.routes';
import type { FieldService } from './features/fields/fields.service';
import { keyRoutes } from './features/keys/keys.routes';
import type { KeyService } from './features/keys/keys.service';
import type { Guards } from './guards';

export function buildApp(deps: {
  logger: Logger;
  tls: ServiceTlsOptions;
  guards: Guards;
  credentials: CredentialService;
  keys: KeyService;
  fields: FieldService;
  kickReencryption: () => void;
  /** Features that register their own routes (the OAuth2 module). */
  extraRoutes?: ReadonlyArray<(app: FastifyInstance) => void>;
  readiness: Record<string, () => Promise<void>>;
}): FastifyInstance {
  const app = buildServiceApp({
    service: 'credential-vault',
    logger: deps.logger,
    tls: deps.tls,
    readiness: deps.readiness,
  });
  credentialRoutes(app, { credentials: deps.credentials, guards: deps.guards });
  keyRoutes(app, { keys: deps.keys, guards: deps.guards, kick: deps.kickReencryption });
  fieldRoutes(app, { fields: deps.fields, guards: deps.guards });
  for (const register of deps.extraRoutes ?? []) register(app);
  return app;
}
