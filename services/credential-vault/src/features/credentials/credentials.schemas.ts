import { listResponse } from '@flow8/http';
// Route schemas. Response schemas list exactly the metadata fields, so a secret (or anything
// else) added to a row by mistake is dropped before it reaches a client.
import { CREDENTIAL_KINDS, INTEGRATIONS } from './scopes';

const crdId = { type: 'string', pattern: '^crd_[0-9a-z]{26}$' } as const;
const idParams = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: crdId } } as const;
/** A secret: an API key, password, token or a serialised OAuth2 grant. Up to 16 KiB. */
const secret = { type: 'string', minLength: 1, maxLength: 16384 } as const;
const scope = { type: 'string', minLength: 1, maxLength: 160 } as const;
const ref = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' } as const;

export const credentialViewSchema = {
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

export const createCredentialSchema = {
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
  response: { 201: credentialViewSchema },
} as const;

export const listCredentialsSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
      cursor: { type: 'string', minLength: 1, maxLength: 200 },
    },
  },
  response: {
    200: listResponse(credentialViewSchema),
  },
} as const;

export const getCredentialSchema = { params: idParams, response: { 200: credentialViewSchema } } as const;

export const rotateCredentialSchema = {
  params: idParams,
  body: { type: 'object', additionalProperties: false, required: ['secret'], properties: { secret } },
  response: { 200: credentialViewSchema },
} as const;

export const revokeCredentialSchema = {
  params: idParams,
  response: {
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

export const resolveSchema = {
  params: idParams,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['tenantId', 'flowId', 'executionId', 'stepId', 'scope', 'purpose', 'actingFor'],
    properties: {
      tenantId: { type: 'string', pattern: '^ten_[0-9a-z]{26}$' },
      flowId: ref,
      executionId: ref,
      stepId: ref,
      scope: { type: 'string', minLength: 1, maxLength: 160, pattern: '^[a-z_]+(:[a-z_]+)*(:[A-Za-z0-9_-]{1,128})?$' },
      purpose: { type: 'string', minLength: 1, maxLength: 200 },
      // Whom the step runs for, as the flow engine knows it from the trigger (or the flow's owner
      // for a schedule): the vault applies that principal's role, scopes and integration grants.
      actingFor: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'id', 'role'],
        properties: {
          type: { enum: ['user', 'api_key'] },
          id: { type: 'string', pattern: '^(usr|key)_[0-9a-z]{26}$' },
          role: { enum: ['admin', 'flow_designer', 'executor', 'viewer'] },
          scopes: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 64 } },
          ownerId: { type: 'string', pattern: '^usr_[0-9a-z]{26}$' },
        },
        if: { properties: { type: { const: 'api_key' } } },
        then: { required: ['scopes', 'ownerId'] },
      },
    },
  },
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['credentialId', 'version', 'integration', 'secret'],
      properties: {
        credentialId: { type: 'string' },
        version: { type: 'integer' },
        integration: { type: 'string' },
        secret: { type: 'string' },
      },
    },
  },
} as const;
