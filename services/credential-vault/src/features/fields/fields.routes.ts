// Field encryption for other services (mTLS CN in VAULT_FIELD_CALLERS, and a service call signed
// with that service's own key): seal, open, re-seal under the active key after a rotation, and
// release an old key once the caller's fields are off it. The company is the one the signed call
// names: no body or query carries a tenant (one that does is refused with 400).
import type { FastifyInstance } from 'fastify';
import type { Guards } from '../../guards';
import { serviceCallerOf } from '../../principal';
import type { FieldRef, FieldService } from './fields.service';

const ref = {
  recordId: { type: 'string', minLength: 1, maxLength: 128 },
  field: { type: 'string', minLength: 1, maxLength: 128 },
  version: { type: 'integer', minimum: 0, maximum: 2147483647, default: 0 },
} as const;
const strings = { type: 'array', items: { type: 'string' } } as const;

/** A closed object: every listed property required, nothing else accepted (or sent). */
function closed<P extends Record<string, object>>(properties: P, optional: readonly string[] = []) {
  const required = Object.keys(properties).filter((k) => !optional.includes(k));
  return { type: 'object', additionalProperties: false, required, properties } as const;
}

const items = <V extends string>(value: V, schema: object) => ({
  type: 'array',
  minItems: 1,
  maxItems: 100,
  items: closed({ ...ref, [value]: schema } as Record<string, object>, ['version']),
});

/** `{items: [{recordId, field, version?, <value>}]}`, at most 100 items. */
function itemsBody<V extends string>(value: V, schema: object) {
  return closed({ items: items(value, schema) });
}

const plaintext = { type: 'string', maxLength: 65536 } as const;
const sealed = { type: 'string', minLength: 1, maxLength: 90000 } as const;

const encryptSchema = {
  body: itemsBody('plaintext', plaintext),
  response: { 200: closed({ sealed: strings }) },
} as const;

const decryptSchema = {
  // `purpose`: why the fields are revealed, recorded on the decrypt's audit event.
  body: closed({ items: items('sealed', sealed), purpose: { type: 'string', minLength: 1, maxLength: 200 } }, [
    'purpose',
  ]),
  response: { 200: closed({ plaintext: strings }) },
} as const;

const reencryptSchema = {
  body: itemsBody('sealed', sealed),
  response: { 200: closed({ sealed: strings, reencrypted: { type: 'integer' }, keyId: { type: 'string' } }) },
} as const;

const keysSchema = {
  querystring: closed({}),
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
  body: closed({ keyId: { type: 'string', pattern: '^[0-9a-f]{32}$' } }),
  response: { 200: closed({ stillHeldBy: strings }) },
} as const;

export function fieldRoutes(app: FastifyInstance, deps: { fields: FieldService; guards: Guards }): void {
  const onRequest = deps.guards.fields;
  app.post('/internal/v1/fields/encrypt', { schema: encryptSchema, onRequest }, async (req) => {
    const body = req.body as { items: Array<FieldRef & { plaintext: string }> };
    return { sealed: await deps.fields.encrypt(serviceCallerOf(req), body.items) };
  });
  app.post('/internal/v1/fields/decrypt', { schema: decryptSchema, onRequest }, async (req) => {
    const body = req.body as { items: Array<FieldRef & { sealed: string }>; purpose?: string };
    return { plaintext: await deps.fields.decrypt(serviceCallerOf(req), body.items, body.purpose ?? null) };
  });
  app.post('/internal/v1/fields/reencrypt', { schema: reencryptSchema, onRequest }, async (req) => {
    const body = req.body as { items: Array<FieldRef & { sealed: string }> };
    return deps.fields.reencrypt(serviceCallerOf(req), body.items);
  });
  app.get('/internal/v1/fields/keys', { schema: keysSchema, onRequest }, async (req) => ({
    items: await deps.fields.keys(serviceCallerOf(req)),
  }));
  app.post('/internal/v1/fields/keys/release', { schema: releaseSchema, onRequest }, async (req) => {
    const body = req.body as { keyId: string };
    return deps.fields.release(serviceCallerOf(req), body.keyId);
  });
}
