import { listResponse } from '@flow8/http';
// Public schemas of the credential vault's tenant routes, mirroring the vault's own
// (services/credential-vault/src/features/credentials/credentials.schemas.ts). A secret is
// accepted on create and rotate and appears in no response schema: the serializer drops any field
// a response schema does not list, so a secret reaching the gateway by mistake never leaves it.
import { errors, idParam, listQuery, userSecurity } from '../../schemas/common';

const tags = ['credentials'];
const writers = 'Admin or Flow Designer (or an API key of theirs with the scope).';

/** The vault's integrations and credential kinds (its scopes.ts); the vault checks scopes per integration. */
export const INTEGRATIONS = ['clio', 'quickbooks', 'salesforce', 'slack', 'google_drive'] as const;
export const CREDENTIAL_KINDS = ['api_key', 'password', 'token', 'oauth2'] as const;

/** An API key, password, token or serialised OAuth2 grant: write-only, up to 16 KiB. */
const secret = {
  type: 'string',
  minLength: 1,
  maxLength: 16384,
  description: 'Sealed by the vault before it is stored; never returned by any route.',
} as const;
const scope = { type: 'string', minLength: 1, maxLength: 160 } as const;

export const credentialView = {
  type: 'object',
  additionalProperties: false,
  required: [
    'id',
    'integration',
    'name',
    'kind',
    'scopes',
    'status',
    'version',
    'createdAt',
    'createdBy',
    'updatedAt',
    'revokedAt',
  ],
  properties: {
    id: { type: 'string' },
    integration: { type: 'string' },
    name: { type: 'string' },
    kind: { type: 'string' },
    scopes: { type: 'array', items: { type: 'string' } },
    status: { type: 'string', enum: ['active', 'revoked'] },
    version: { type: 'integer' },
    createdAt: { type: 'string' },
    createdBy: { type: 'string' },
    updatedAt: { type: 'string' },
    revokedAt: { type: ['string', 'null'] },
  },
} as const;

const credentialId = idParam('crd');

export const listCredentialsSchema = {
  summary: 'List the company’s integration credentials (metadata only)',
  description: writers,
  tags,
  security: userSecurity,
  querystring: listQuery,
  response: {
    200: listResponse(credentialView),
    ...errors(),
  },
} as const;

export const createCredentialSchema = {
  summary: 'Store an integration credential; the secret is sealed and never returned',
  description: `${writers} \`scopes\` must come from the integration’s catalogue.`,
  tags,
  security: userSecurity,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['integration', 'name', 'kind', 'scopes', 'secret'],
    properties: {
      integration: { type: 'string', enum: INTEGRATIONS },
      name: { type: 'string', minLength: 1, maxLength: 200 },
      kind: { type: 'string', enum: CREDENTIAL_KINDS },
      scopes: { type: 'array', minItems: 1, maxItems: 32, uniqueItems: true, items: scope },
      secret,
    },
  },
  response: { 201: { description: 'Stored: its metadata', ...credentialView }, ...errors() },
} as const;

export const getCredentialSchema = {
  summary: 'One credential’s metadata',
  description: writers,
  tags,
  security: userSecurity,
  params: credentialId,
  response: { 200: credentialView, ...errors(404) },
} as const;

export const rotateCredentialSchema = {
  summary: 'Rotate a credential: a new version; the previous secret is destroyed',
  description: `${writers} A revoked credential cannot be rotated (409).`,
  tags,
  security: userSecurity,
  params: credentialId,
  body: { type: 'object', additionalProperties: false, required: ['secret'], properties: { secret } },
  response: { 200: credentialView, ...errors(404, 409) },
} as const;

export const revokeCredentialSchema = {
  summary: 'Revoke a credential: refused for every use from this moment',
  description:
    `${writers} Already revoked: 409. An \`oauth2\` credential connected through the OAuth2 routes ` +
    'answers 200 and says whether its grant was also revoked at the provider; a provider failure never ' +
    'undoes the local revocation.',
  tags,
  security: userSecurity,
  params: credentialId,
  response: {
    200: {
      description: 'Revoked here; `providerRevocation` is the outcome at the OAuth2 provider',
      type: 'object',
      additionalProperties: false,
      required: ['id', 'status', 'providerRevocation'],
      properties: {
        id: { type: 'string' },
        status: { type: 'string', enum: ['revoked'] },
        providerRevocation: { type: 'string', enum: ['revoked', 'failed'] },
      },
    },
    204: { type: 'null', description: 'Revoked' },
    ...errors(404, 409),
  },
} as const;

// OAuth2 (authorization code + PKCE), mirroring the vault's src/features/oauth/oauth.routes.ts.
// The provider redirects the browser to the frontend page registered as the vault's
// VAULT_OAUTH_REDIRECT_URI; that page (same site as this API, so the SameSite=Strict session cookie
// is sent) passes `state`, `code` and `iss` on to the callback. The vault accepts the callback only
// from the user who started, in the same company, once.

export const startOAuthSchema = {
  summary: 'Start connecting an integration with OAuth2: the URL to send the user to',
  description:
    `${writers} \`scopes\` are flow8 scopes from the integration’s catalogue; 400 if the integration ` +
    'is not configured for OAuth2. The `state` is single use, bound to this user and company, and expires ' +
    'at `expiresAt`.',
  tags,
  security: userSecurity,
  params: {
    type: 'object',
    additionalProperties: false,
    required: ['integration'],
    properties: { integration: { type: 'string', enum: INTEGRATIONS } },
  },
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'scopes'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
      scopes: { type: 'array', minItems: 1, maxItems: 32, items: scope },
    },
  },
  response: {
    200: {
      description: 'Send the browser to `authorizationUrl`',
      type: 'object',
      additionalProperties: false,
      required: ['authorizationUrl', 'state', 'expiresAt'],
      properties: {
        authorizationUrl: { type: 'string' },
        state: { type: 'string' },
        expiresAt: { type: 'string' },
      },
    },
    ...errors(),
  },
} as const;

const callbackParam = { type: 'string', minLength: 1, maxLength: 2048 } as const;

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
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      state: callbackParam,
      code: callbackParam,
      iss: callbackParam,
      error: callbackParam,
      error_description: callbackParam,
    },
  },
  response: { 201: { description: 'Connected: the new credential’s metadata', ...credentialView }, ...errors() },
} as const;

const dataKey = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'version', 'status', 'records', 'createdAt', 'retiredAt'],
  properties: {
    id: { type: 'string' },
    version: { type: 'integer' },
    status: { type: 'string' },
    records: { type: 'integer', description: 'Records still sealed with this key' },
    usedForFields: { type: 'boolean' },
    createdAt: { type: 'string' },
    retiredAt: { type: ['string', 'null'] },
  },
} as const;

const reencryption = {
  type: 'object',
  additionalProperties: false,
  required: ['inProgress', 'remaining'],
  properties: {
    inProgress: { type: 'boolean' },
    remaining: { type: 'integer' },
    keptForFields: { type: 'array', items: { type: 'string' } },
  },
} as const;

const keysView = {
  type: 'object',
  additionalProperties: false,
  required: ['items', 'reencryption'],
  properties: { items: { type: 'array', items: dataKey }, reencryption },
} as const;

const rotation = {
  type: 'object',
  additionalProperties: false,
  required: ['started', 'activeKeyId', 'activeVersion', 'items', 'reencryption'],
  properties: {
    started: { type: 'boolean' },
    activeKeyId: { type: 'string' },
    activeVersion: { type: 'integer' },
    ...keysView.properties,
  },
} as const;

export const rotateKeysSchema = {
  summary: 'Rotate the company’s data key (records are re-encrypted in the background)',
  description: 'Admin. While a previous rotation still re-encrypts, answers 200 with its progress.',
  tags,
  security: userSecurity,
  response: {
    200: { description: 'A rotation is already in progress', ...rotation },
    202: { description: 'Rotation started', ...rotation },
    ...errors(),
  },
} as const;

export const listKeysSchema = {
  summary: 'The company’s data keys and the re-encryption progress',
  description: 'Admin.',
  tags,
  security: userSecurity,
  response: { 200: keysView, ...errors() },
} as const;
