// § Credentials, forwarded to credential-vault (mTLS, internal identity with audience
// `credential-vault`). The vault decides per credential; the gateway gates the route by role and
// scope (packages/authz ROUTE_PERMISSIONS) and validates both directions with these schemas.
// The OAuth2 start/callback routes are not exposed yet (being wired in the vault).
import type { FastifyInstance } from 'fastify';
import type { Upstreams } from '../../upstream/client';
import { forwardTo } from '../forward';
import * as s from './credentials.schemas';

export function credentialRoutes(app: FastifyInstance, deps: { upstreams: Upstreams }): void {
  const toVault = forwardTo(deps.upstreams, 'credential-vault');

  app.get('/v1/credentials', { schema: s.listCredentialsSchema }, toVault);
  app.post('/v1/credentials', { schema: s.createCredentialSchema }, toVault);
  app.get('/v1/credentials/:id', { schema: s.getCredentialSchema }, toVault);
  app.post('/v1/credentials/:id/rotate', { schema: s.rotateCredentialSchema }, toVault);
  app.delete('/v1/credentials/:id', { schema: s.revokeCredentialSchema }, toVault);

  app.post('/v1/keys/rotate', { schema: s.rotateKeysSchema }, toVault);
  app.get('/v1/keys', { schema: s.listKeysSchema }, toVault);
}
