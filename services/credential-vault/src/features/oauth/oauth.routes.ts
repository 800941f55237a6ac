// POST /v1/credentials/oauth/:integration/start and GET /v1/credentials/oauth/callback: through
// the gateway with an identity token (Admin, Flow Designer), like the other credential routes.
// Tokens never appear in a response: the callback answers with the credential's metadata.
import type { FastifyInstance } from 'fastify';
import { AppError } from '@flow8/http';
import type { Guards } from '../../guards';
import { callerOf } from '../../principal';
import { credentials as api } from '@flow8/api';
import type { OAuthService } from './oauth.vault';

const startSchema = api.startOAuth;
const callbackSchema = api.oauthCallback;

type CallbackQuery = { state?: string; code?: string; iss?: string; error?: string };

/** Without VAULT_OAUTH_REDIRECT_URI no integration is configured: the routes answer 400 saying so. */
const notConfigured = (): never => {
  throw new AppError('BAD_REQUEST', 'This integration is not configured for OAuth2');
};

export function oauthRoutes(deps: { oauth: OAuthService | null; guards: Guards }) {
  return (app: FastifyInstance): void => {
    const { guards } = deps;
    const oauth = deps.oauth ?? { start: notConfigured, callback: notConfigured };
    const onRequest = guards.identity;
    app.post('/v1/credentials/oauth/:integration/start', { schema: startSchema, onRequest }, async (req) =>
      oauth.start(
        callerOf(req),
        (req.params as { integration: string }).integration,
        req.body as { name: string; scopes: string[] },
      ),
    );
    app.get('/v1/credentials/oauth/callback', { schema: callbackSchema, onRequest }, async (req, reply) =>
      reply.code(201).send(await oauth.callback(callerOf(req), req.query as CallbackQuery)),
    );
  };
}
