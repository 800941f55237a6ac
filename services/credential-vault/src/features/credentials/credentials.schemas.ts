// Route schemas. The tenant routes' schemas are the public contract from @flow8/api (the gateway
// validates with the same ones); response schemas list exactly the metadata fields, so a secret (or
// anything else) added to a row by mistake is dropped before it reaches a client. The flow
// engine's resolve route is internal and defined here.
import { credentials as api } from '@flow8/api';

const idParams = api.credentialIdParams;
const ref = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' } as const;

export const credentialViewSchema = api.credentialView;
export const createCredentialSchema = api.createCredential;
export const listCredentialsSchema = api.listCredentials;
export const getCredentialSchema = api.getCredential;
export const rotateCredentialSchema = api.rotateCredential;
export const revokeCredentialSchema = api.revokeCredential;

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
