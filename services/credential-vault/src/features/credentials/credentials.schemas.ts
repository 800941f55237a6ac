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

// The company and whom the step runs for are not in the body: they come from the flow engine's
// signed service call. A body that still names a tenant or an "acting for" is refused (400), never
// read — nothing in a body can widen whose credentials a call reaches.
export const resolveSchema = {
  params: idParams,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['flowId', 'executionId', 'stepId', 'scope', 'purpose'],
    properties: {
      flowId: ref,
      executionId: ref,
      stepId: ref,
      scope: { type: 'string', minLength: 1, maxLength: 160, pattern: '^[a-z_]+(:[a-z_]+)*(:[A-Za-z0-9_-]{1,128})?$' },
      purpose: { type: 'string', minLength: 1, maxLength: 200 },
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
