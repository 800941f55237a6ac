import { ROLES } from '../../principal';
import { email, password } from '../users/users.schemas';

const token = { type: 'string', minLength: 1, maxLength: 256 } as const;
const noContent = { 204: { type: 'null' } } as const;

/** Transport headers pass; the client IP the gateway determined is the one principal header here. */
export const clientIpHeaders = {
  type: 'object',
  properties: { 'x-flow8-client-ip': { type: 'string', minLength: 2, maxLength: 64 } },
} as const;

export const loginSchema = {
  headers: clientIpHeaders,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['tenant', 'email', 'password'],
    properties: { tenant: { type: 'string', minLength: 1, maxLength: 63 }, email, password },
  },
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['sessionToken', 'csrfToken', 'expiresAt', 'user'],
      properties: {
        sessionToken: { type: 'string' },
        csrfToken: { type: 'string' },
        expiresAt: { type: 'string' },
        user: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'email', 'role', 'tenantId'],
          properties: {
            id: { type: 'string' },
            email: { type: 'string' },
            role: { enum: [...ROLES] },
            tenantId: { type: 'string' },
          },
        },
      },
    },
  },
} as const;

export const resolveSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['sessionToken'],
    properties: { sessionToken: token, csrfToken: token },
  },
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['principal', 'csrfValid'],
      properties: {
        principal: {
          type: 'object',
          additionalProperties: false,
          required: ['tenantId', 'type', 'id', 'role', 'sessionId'],
          properties: {
            tenantId: { type: 'string' },
            type: { const: 'user' },
            id: { type: 'string' },
            role: { enum: [...ROLES] },
            sessionId: { type: 'string' },
          },
        },
        csrfValid: { type: 'boolean' },
      },
    },
  },
} as const;

export const logoutSchema = { response: noContent } as const;

export const changePasswordSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['currentPassword', 'newPassword'],
    properties: { currentPassword: password, newPassword: password },
  },
  response: noContent,
} as const;

export const meSchema = {
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'user', 'apiKey', 'sessionId', 'tenant', 'role', 'permissions'],
      properties: {
        type: { enum: ['user', 'api_key', 'operator'] },
        user: {
          type: ['object', 'null'],
          additionalProperties: false,
          required: ['id', 'email', 'role'],
          properties: { id: { type: 'string' }, email: { type: 'string' }, role: { enum: [...ROLES] } },
        },
        apiKey: {
          type: ['object', 'null'],
          additionalProperties: false,
          required: ['id', 'scopes'],
          properties: { id: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } } },
        },
        sessionId: { type: ['string', 'null'] },
        tenant: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'name', 'slug'],
          properties: { id: { type: 'string' }, name: { type: 'string' }, slug: { type: 'string' } },
        },
        role: { enum: [...ROLES, null] },
        permissions: { type: 'array', items: { type: 'string' } },
      },
    },
  },
} as const;
