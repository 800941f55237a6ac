import { listResponse } from '@flow8/http';
import { errors, userSecurity } from '../../schemas/common';

const tags = ['audit'];
const isoTime = { type: 'string', format: 'date-time' } as const;
const readers =
  'Admin, Viewer, or an API key with scope `audit:read`. The read is itself audited, with the caller and client IP.';

const eventView = {
  type: 'object',
  required: ['seq', 'eventId', 'type', 'occurredAt', 'recordedAt', 'actor', 'resource', 'purpose', 'payload', 'hash'],
  properties: {
    seq: { type: 'integer' },
    eventId: { type: 'string' },
    type: { type: 'string' },
    occurredAt: { type: 'string' },
    recordedAt: { type: 'string' },
    actor: {
      type: 'object',
      properties: { type: { type: 'string' }, id: { type: 'string' }, ip: { type: ['string', 'null'] } },
    },
    resource: { type: 'object', properties: { type: { type: 'string' }, id: { type: 'string' } } },
    purpose: { type: ['string', 'null'] },
    payload: { type: 'object', additionalProperties: true },
    hash: { type: 'string' },
  },
} as const;

export const listEventsSchema = {
  summary: 'Query the audit trail',
  description: readers,
  tags,
  security: userSecurity,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      type: { type: 'string', maxLength: 128 },
      actorId: { type: 'string', maxLength: 128 },
      resourceType: { type: 'string', maxLength: 64 },
      resourceId: { type: 'string', maxLength: 128 },
      from: isoTime,
      to: isoTime,
      limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
      cursor: { type: 'string', maxLength: 200 },
    },
  },
  response: {
    200: listResponse(eventView),
    ...errors(),
  },
} as const;

export const exportSchema = {
  summary: 'Stream an export of the audit ledger (NDJSON with hashes and canonical bytes, or CSV)',
  description: `${readers} Verify an NDJSON export offline with \`pnpm audit:verify\`.`,
  tags,
  security: userSecurity,
  produces: ['application/x-ndjson', 'text/csv'],
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { format: { type: 'string', enum: ['ndjson', 'csv'], default: 'ndjson' }, from: isoTime, to: isoTime },
  },
  response: {
    200: { description: 'The export, streamed', type: 'string' },
    ...errors(),
  },
} as const;

export const verifySchema = {
  summary: 'Verify the company’s hash chain and checkpoints',
  description: readers,
  tags,
  security: userSecurity,
  response: {
    200: {
      type: 'object',
      required: ['ok', 'checked', 'firstBadSeq', 'head'],
      properties: {
        ok: { type: 'boolean' },
        checked: { type: 'integer' },
        firstBadSeq: { type: ['integer', 'null'] },
        reason: { type: ['string', 'null'] },
        checkpointsVerified: { type: 'integer' },
        head: { type: ['object', 'null'], properties: { seq: { type: 'integer' }, hash: { type: 'string' } } },
      },
    },
    ...errors(),
  },
} as const;

export const checkpointsSchema = {
  summary: 'Signed checkpoints and the public keys that verify them',
  description: readers,
  tags,
  security: userSecurity,
  response: {
    200: {
      type: 'object',
      required: ['items', 'publicKeys'],
      properties: {
        items: {
          type: 'array',
          items: {
            type: 'object',
            required: ['seq', 'headHash', 'signedAt', 'keyId', 'signature', 'canonical'],
            properties: {
              seq: { type: 'integer' },
              headHash: { type: 'string' },
              signedAt: { type: 'string' },
              keyId: { type: 'string' },
              signature: { type: 'string' },
              canonical: { type: 'string' },
            },
          },
        },
        publicKeys: {
          type: 'array',
          items: { type: 'object', properties: { keyId: { type: 'string' }, publicKey: { type: 'string' } } },
        },
      },
    },
    ...errors(),
  },
} as const;
