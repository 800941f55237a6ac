// POST /v1/credentials/oauth/:integration/start and GET /v1/credentials/oauth/callback: through
// the gateway with an identity token (Admin, Flow Designer), like the other credential routes.
// Tokens never appear in a response: the callback answers with the credential's metadata.
import type { FastifyInstance } from 'fastify';
import type { Guards } from '../../guards';
import { callerOf } from '../../principal';
import { credentialViewSchema } from '../credentials/credentials.schemas';
import { INTEGRATIONS } from './integrations';
import type { OAuthService } from './oauth.vault';

const startSchema = {
  params: {
    type: 'object',
    additionalProperties: false,
    required: ['integration'],
    properties: { integration: { type: 'string', enum: [...INTEGRATIONS] } },
  },
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'scopes'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
      scopes: { type: 'array', minItems: 1, maxItems: 32, items: { type: 'string', minLength: 1, maxLength: 160 } },
    },
  },
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['authorizationUrl', 'state', 'expiresAt'],
      properties: {
        authorizationUrl: { type: 'string' },
        state: { type: 'string' },
        expiresAt: { type: 'string' },
      },
    },
  },
} as const;

const param = { type: 'string', minLength: 1, maxLength: 2048 } as const;
const callbackSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { state: param, code: param, iss: param, error: param, error_description: param },
  },
  response: { 201: credentialViewSchema },
} as const;

type CallbackQuery = { state?: string; code?: string; iss?: string; error?: string };

export function oauthRoutes(deps: { oauth: OAuthService; guards: Guards }) {
  return (app: FastifyInstance): void => {
    const { oauth, guards } = deps;
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
