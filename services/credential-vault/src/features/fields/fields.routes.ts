import type { FastifyInstance } from 'fastify';
import type { Guards } from '../../guards';
import type { FieldRef, FieldService } from './fields.service';

const ref = {
  recordId: { type: 'string', minLength: 1, maxLength: 128 },
  field: { type: 'string', minLength: 1, maxLength: 128 },
  version: { type: 'integer', minimum: 0, maximum: 2147483647, default: 0 },
} as const;
const tenantId = { type: 'string', pattern: '^ten_[0-9a-z]{26}$' } as const;

const encryptSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['tenantId', 'items'],
    properties: {
      tenantId,
      items: {
        type: 'array',
        minItems: 1,
        maxItems: 100,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['recordId', 'field', 'plaintext'],
          properties: { ...ref, plaintext: { type: 'string', maxLength: 65536 } },
        },
      },
    },
  },
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['sealed'],
      properties: { sealed: { type: 'array', items: { type: 'string' } } },
    },
  },
} as const;

const decryptSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['tenantId', 'items'],
    properties: {
      tenantId,
      items: {
        type: 'array',
        minItems: 1,
        maxItems: 100,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['recordId', 'field', 'sealed'],
          properties: { ...ref, sealed: { type: 'string', minLength: 1, maxLength: 90000 } },
        },
      },
    },
  },
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['plaintext'],
      properties: { plaintext: { type: 'array', items: { type: 'string' } } },
    },
  },
} as const;

export function fieldRoutes(app: FastifyInstance, deps: { fields: FieldService; guards: Guards }): void {
  const onRequest = deps.guards.fields;
  app.post('/internal/v1/fields/encrypt', { schema: encryptSchema, onRequest }, async (req) => {
    const body = req.body as { tenantId: string; items: Array<FieldRef & { plaintext: string }> };
    return { sealed: await deps.fields.encrypt(body.tenantId, body.items) };
  });
  app.post('/internal/v1/fields/decrypt', { schema: decryptSchema, onRequest }, async (req) => {
    const body = req.body as { tenantId: string; items: Array<FieldRef & { sealed: string }> };
    return { plaintext: await deps.fields.decrypt(body.tenantId, body.items) };
  });
}
