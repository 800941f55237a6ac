// § Audit (docs/api.md), served by audit-ingest behind the gateway. Both validate with these.
import { listResponse } from '@flow8/http';

const isoTime = { type: 'string', format: 'date-time' } as const;

export const ledgerEventView = {
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

export const listEvents = {
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
  response: { 200: listResponse(ledgerEventView) },
} as const;

export const exportLedger = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { format: { type: 'string', enum: ['ndjson', 'csv'], default: 'ndjson' }, from: isoTime, to: isoTime },
  },
} as const;

export const verifyResult = {
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
} as const;

export const verifyLedger = { response: { 200: verifyResult } } as const;

export const checkpointView = {
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
} as const;

export const listCheckpoints = {
  response: {
    200: {
      type: 'object',
      required: ['items', 'publicKeys'],
      properties: {
        items: { type: 'array', items: checkpointView },
        publicKeys: {
          type: 'array',
          items: { type: 'object', properties: { keyId: { type: 'string' }, publicKey: { type: 'string' } } },
        },
      },
    },
  },
} as const;
