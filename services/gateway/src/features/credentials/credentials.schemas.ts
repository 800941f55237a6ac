// Public schemas of § Credentials: the request and response schemas are the vault's own, from
// @flow8/api (one definition for both); this file adds what the OpenAPI document needs — summary,
// who may call, tags, security — and the gateway's error responses. A secret is accepted on create
// and rotate and appears in no response schema: the serializer drops any field a response schema
// does not list, so a secret reaching the gateway by mistake never leaves it.
import { credentials as api } from '@flow8/api';
import { errors, userSecurity } from '../../schemas/common';

const tags = ['credentials'];
const writers = 'Admin or Flow Designer (or an API key of theirs with the scope).';
const narrowed = ' Integration grants narrow a principal to the granted integrations (see identity-and-access.md).';

export const listCredentialsSchema = {
  summary: 'List the company’s integration credentials (metadata only)',
  description: `${writers}${narrowed}`,
  tags,
  security: userSecurity,
  querystring: api.listCredentials.querystring,
  response: { ...api.listCredentials.response, ...errors() },
} as const;

export const createCredentialSchema = {
  summary: 'Store an integration credential; the secret is sealed and never returned',
  description: `${writers} \`scopes\` must come from the integration’s catalogue.${narrowed}`,
  tags,
  security: userSecurity,
  body: api.createCredential.body,
  response: { 201: { description: 'Stored: its metadata', ...api.credentialView }, ...errors() },
} as const;

export const getCredentialSchema = {
  summary: 'One credential’s metadata',
  description: writers,
  tags,
  security: userSecurity,
  params: api.getCredential.params,
  response: { ...api.getCredential.response, ...errors(404) },
} as const;

export const rotateCredentialSchema = {
  summary: 'Rotate a credential: a new version; the previous secret is destroyed',
  description: `${writers} A revoked credential cannot be rotated (409).`,
  tags,
  security: userSecurity,
  params: api.rotateCredential.params,
  body: api.rotateCredential.body,
  response: { ...api.rotateCredential.response, ...errors(404, 409) },
} as const;

export const revokeCredentialSchema = {
  summary: 'Revoke a credential: refused for every use from this moment',
  description:
    `${writers} Already revoked: 409. An \`oauth2\` credential connected through the OAuth2 routes ` +
    'answers 200 and says whether its grant was also revoked at the provider; a provider failure never ' +
    'undoes the local revocation.',
  tags,
  security: userSecurity,
  params: api.revokeCredential.params,
  response: {
    200: {
      description: 'Revoked here; `providerRevocation` is the outcome at the OAuth2 provider',
      ...api.revokeCredential.response[200],
    },
    204: { description: 'Revoked', ...api.revokeCredential.response[204] },
    ...errors(404, 409),
  },
} as const;

// OAuth2 (authorization code + PKCE). The provider redirects the browser to the frontend page
// registered as the vault's VAULT_OAUTH_REDIRECT_URI; that page (same site as this API, so the
// SameSite=Strict session cookie is sent) passes `state`, `code` and `iss` on to the callback. The
// vault accepts the callback only from the user who started, in the same company, once.

export const startOAuthSchema = {
  summary: 'Start connecting an integration with OAuth2: the URL to send the user to',
  description:
    `${writers} \`scopes\` are flow8 scopes from the integration’s catalogue; 400 if the integration ` +
    'is not configured for OAuth2. The `state` is single use, bound to this user and company, and expires ' +
    'at `expiresAt`.',
  tags,
  security: userSecurity,
  params: api.startOAuth.params,
  body: api.startOAuth.body,
  response: {
    200: { description: 'Send the browser to `authorizationUrl`', ...api.startOAuth.response[200] },
    ...errors(),
  },
} as const;

export const oauthCallbackSchema = {
  summary: 'Finish connecting an integration: the provider’s answer becomes an oauth2 credential',
  description:
    `${writers} Called by the frontend page the provider redirected to, with the query it received ` +
    '(`state`, `code`, `iss`, or `error`), by the user who started. The state is spent whatever the ' +
    'outcome. Unknown, used, expired or another user’s state, another issuer, or a refusal at the ' +
    'provider: 400 with `details.reason`; provider unreachable: 503. The tokens are sealed by the vault ' +
    'and never returned.',
  tags,
  security: userSecurity,
  querystring: api.oauthCallback.querystring,
  response: {
    201: { description: 'Connected: the new credential’s metadata', ...api.oauthCallback.response[201] },
    ...errors(),
  },
} as const;

export const rotateKeysSchema = {
  summary: 'Rotate the company’s data key (records are re-encrypted in the background)',
  description: 'Admin. While a previous rotation still re-encrypts, answers 200 with its progress.',
  tags,
  security: userSecurity,
  response: {
    200: { description: 'A rotation is already in progress', ...api.rotateKeys.response[200] },
    202: { description: 'Rotation started', ...api.rotateKeys.response[202] },
    ...errors(),
  },
} as const;

export const listKeysSchema = {
  summary: 'The company’s data keys and the re-encryption progress',
  description: 'Admin.',
  tags,
  security: userSecurity,
  response: { ...api.listKeys.response, ...errors() },
} as const;
