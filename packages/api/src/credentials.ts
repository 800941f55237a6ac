// § Credentials (docs/api.md), served by credential-vault behind the gateway. The vault
// validates with these schemas and the gateway validates both directions with the same ones (and
// documents them in its OpenAPI), so a field added here reaches clients through both — and a
// field not listed in a response schema (a secret by mistake) is dropped by either serializer.
import { listQuery, listResponse } from '@flow8/http';

/** Integrations a credential can be for (the vault's scope catalogue has one entry per name). */
export const INTEGRATIONS = ['clio', 'quickbooks', 'salesforce', 'slack', 'google_drive'] as const;
export type Integration = (typeof INTEGRATIONS)[number];

export const CREDENTIAL_KINDS = ['api_key', 'password', 'token', 'oauth2'] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

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

export const credentialIdParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^crd_[0-9a-z]{26}$' } },
} as const;

export const listCredentials = {
  querystring: listQuery,
  response: { 200: listResponse(credentialView) },
} as const;

export const createCredential = {
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
  response: { 201: credentialView },
} as const;

export const getCredential = { params: credentialIdParams, response: { 200: credentialView } } as const;

export const rotateCredential = {
  params: credentialIdParams,
  body: { type: 'object', additionalProperties: false, required: ['secret'], properties: { secret } },
  response: { 200: credentialView },
} as const;

export const revokeCredential = {
  params: credentialIdParams,
  response: {
    /** An OAuth2 grant: revoked here, and `providerRevocation` says what the provider answered. */
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'status', 'providerRevocation'],
      properties: {
        id: { type: 'string' },
        status: { type: 'string', enum: ['revoked'] },
        providerRevocation: { type: 'string', enum: ['revoked', 'failed'] },
      },
    },
    204: { type: 'null' },
  },
} as const;

export const startOAuth = {
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

const callbackParam = { type: 'string', minLength: 1, maxLength: 2048 } as const;

export const oauthCallback = {
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
  response: { 201: credentialView },
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

export const keysView = {
  type: 'object',
  additionalProperties: false,
  required: ['items', 'reencryption'],
  properties: { items: { type: 'array', items: dataKey }, reencryption },
} as const;

export const keyRotation = {
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

/** 202 when a rotation starts; 200 with the running one's progress while one is under way. */
export const rotateKeys = { response: { 200: keyRotation, 202: keyRotation } } as const;

export const listKeys = { response: { 200: keysView } } as const;
