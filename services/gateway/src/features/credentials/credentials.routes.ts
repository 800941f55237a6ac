// § Credentials, forwarded to credential-vault (mTLS, internal identity with audience
// `credential-vault`). The vault decides per credential; the gateway gates the route by role and
// scope (packages/authz ROUTE_PERMISSIONS) and validates both directions with these schemas.
// OAuth2: the callback is called by the product frontend's redirect page with the user's session
// (docs/identity-and-access.md § OAuth2 callback); the vault checks that user against the state.
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

  app.post('/v1/credentials/oauth/:integration/start', { schema: s.startOAuthSchema }, toVault);
  app.get('/v1/credentials/oauth/callback', { schema: s.oauthCallbackSchema }, toVault);

  app.post('/v1/keys/rotate', { schema: s.rotateKeysSchema }, toVault);
  app.get('/v1/keys', { schema: s.listKeysSchema }, toVault);
}
