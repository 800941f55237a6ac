import { listResponse } from '@flow8/http';
// Route schemas. The response schemas name exactly what leaves: the token appears only in the
// answers that issue one (create, rotate), never in a list.
import { ROLES } from '../../principal';
import { DEFAULT_EXPIRES_IN_DAYS, MAX_EXPIRES_IN_DAYS } from './api-keys.service';
import { API_KEY_SCOPES } from './scopes';

const keyId = { type: 'string', pattern: '^key_[0-9a-z]{26}$' } as const;
const expiresInDays = { type: 'integer', minimum: 1, maximum: MAX_EXPIRES_IN_DAYS } as const;

const viewProperties = {
  id: { type: 'string' },
  name: { type: 'string' },
  ownerId: { type: 'string' },
  role: { enum: [...ROLES] },
  scopes: { type: 'array', items: { type: 'string' } },
  cidrs: { type: 'array', items: { type: 'string' } },
  kid: { type: 'string' },
  status: { enum: ['active', 'revoked', 'expired'] },
  createdAt: { type: 'string' },
  expiresAt: { type: 'string' },
  revokedAt: { type: ['string', 'null'] },
  rotatedFrom: { type: ['string', 'null'] },
} as const;
const viewRequired = Object.keys(viewProperties);

export const apiKeyView = {
  type: 'object',
  additionalProperties: false,
  required: viewRequired,
  properties: viewProperties,
} as const;

const issuedView = {
  type: 'object',
  additionalProperties: false,
  required: [...viewRequired, 'token'],
  properties: { ...viewProperties, token: { type: 'string' } },
} as const;

const idParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: keyId },
} as const;

export const listApiKeysSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
      cursor: { type: 'string', minLength: 1, maxLength: 200 },
    },
  },
  response: {
    200: listResponse(apiKeyView),
  },
} as const;

export const createApiKeySchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'scopes'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' },
      scopes: { type: 'array', minItems: 1, maxItems: 64, uniqueItems: true, items: { enum: [...API_KEY_SCOPES] } },
      cidrs: { type: 'array', maxItems: 64, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 64 } },
      expiresInDays: { ...expiresInDays, default: DEFAULT_EXPIRES_IN_DAYS },
    },
  },
  response: { 201: issuedView },
} as const;

export const rotateApiKeySchema = {
  params: idParams,
  body: {
    type: ['object', 'null'],
    additionalProperties: false,
    properties: { expiresInDays },
  },
  response: { 201: issuedView },
} as const;

export const revokeApiKeySchema = {
  params: idParams,
} as const;

export const jwksSchema = {
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['keys'],
      properties: {
        keys: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['kty', 'crv', 'x', 'kid', 'use', 'alg'],
            properties: {
              kty: { const: 'OKP' },
              crv: { const: 'Ed25519' },
              x: { type: 'string' },
              kid: { type: 'string' },
              use: { const: 'sig' },
              alg: { const: 'EdDSA' },
            },
          },
        },
      },
    },
  },
} as const;
