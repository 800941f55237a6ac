// Field encryption for other services (mTLS CN in VAULT_FIELD_CALLERS): seal, open, re-seal
// under the active key after a rotation, and release an old key once the caller's fields are off it.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, serviceIdentity } from '@flow8/http';
import type { Guards } from '../../guards';
import type { FieldRef, FieldService } from './fields.service';

const ref = {
  recordId: { type: 'string', minLength: 1, maxLength: 128 },
  field: { type: 'string', minLength: 1, maxLength: 128 },
  version: { type: 'integer', minimum: 0, maximum: 2147483647, default: 0 },
} as const;
const tenantId = { type: 'string', pattern: '^ten_[0-9a-z]{26}$' } as const;
const strings = { type: 'array', items: { type: 'string' } } as const;

/** A closed object: every listed property required, nothing else accepted (or sent). */
function closed<P extends Record<string, object>>(properties: P, optional: readonly string[] = []) {
  const required = Object.keys(properties).filter((k) => !optional.includes(k));
  return { type: 'object', additionalProperties: false, required, properties } as const;
}

/** `{tenantId, items: [{recordId, field, version?, <value>}]}`, at most 100 items. */
function itemsBody<V extends string>(value: V, schema: object) {
  const item = closed({ ...ref, [value]: schema } as Record<string, object>, ['version']);
  return closed({ tenantId, items: { type: 'array', minItems: 1, maxItems: 100, items: item } });
}

const plaintext = { type: 'string', maxLength: 65536 } as const;
const sealed = { type: 'string', minLength: 1, maxLength: 90000 } as const;

const encryptSchema = {
  body: itemsBody('plaintext', plaintext),
  response: { 200: closed({ sealed: strings }) },
} as const;

const decryptSchema = {
  body: itemsBody('sealed', sealed),
  response: { 200: closed({ plaintext: strings }) },
} as const;

const reencryptSchema = {
  body: itemsBody('sealed', sealed),
  response: { 200: closed({ sealed: strings, reencrypted: { type: 'integer' }, keyId: { type: 'string' } }) },
} as const;

const keysSchema = {
  querystring: closed({ tenantId }),
  response: {
    200: closed({
      items: {
        type: 'array',
        items: closed({
          id: { type: 'string' },
          version: { type: 'integer' },
          status: { type: 'string' },
          heldByYou: { type: 'boolean' },
        }),
      },
    }),
  },
} as const;

const releaseSchema = {
  body: closed({ tenantId, keyId: { type: 'string', pattern: '^[0-9a-f]{32}$' } }),
  response: { 200: closed({ stillHeldBy: strings }) },
} as const;

/** The calling service (its certificate's CN); the guard has already admitted it. */
function callerOf(req: FastifyRequest): string {
  const cn = serviceIdentity(req);
  if (!cn) throw new AppError('UNAUTHENTICATED', 'A client certificate is required');
  return cn;
}

export function fieldRoutes(app: FastifyInstance, deps: { fields: FieldService; guards: Guards }): void {
  const onRequest = deps.guards.fields;
  app.post('/internal/v1/fields/encrypt', { schema: encryptSchema, onRequest }, async (req) => {
    const body = req.body as { tenantId: string; items: Array<FieldRef & { plaintext: string }> };
    return { sealed: await deps.fields.encrypt(body.tenantId, callerOf(req), body.items) };
  });
  app.post('/internal/v1/fields/decrypt', { schema: decryptSchema, onRequest }, async (req) => {
    const body = req.body as { tenantId: string; items: Array<FieldRef & { sealed: string }> };
    return { plaintext: await deps.fields.decrypt(body.tenantId, body.items) };
  });
  app.post('/internal/v1/fields/reencrypt', { schema: reencryptSchema, onRequest }, async (req) => {
    const body = req.body as { tenantId: string; items: Array<FieldRef & { sealed: string }> };
    return deps.fields.reencrypt(body.tenantId, callerOf(req), body.items);
  });
  app.get('/internal/v1/fields/keys', { schema: keysSchema, onRequest }, async (req) => {
    const q = req.query as { tenantId: string };
    return { items: await deps.fields.keys(q.tenantId, callerOf(req)) };
  });
  app.post('/internal/v1/fields/keys/release', { schema: releaseSchema, onRequest }, async (req) => {
    const body = req.body as { tenantId: string; keyId: string };
    return deps.fields.release(body.tenantId, callerOf(req), body.keyId);
  });
}
