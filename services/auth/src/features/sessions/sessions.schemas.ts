// Login, logout and password change validate with @flow8/api's schemas (identity); what is here is
// auth's own: the internal session resolve, the client-IP header, and auth's view of /v1/me.
import { identity } from '@flow8/api';
import { ROLES } from '../../principal';

const token = { type: 'string', minLength: 1, maxLength: 256 } as const;

/** Transport headers pass; the client IP the gateway determined is the one principal header here. */
export const clientIpHeaders = {
  type: 'object',
  properties: { 'x-flow8-client-ip': { type: 'string', minLength: 2, maxLength: 64 } },
} as const;

/** The public login body, answered (to the gateway only) with the session token for its cookie. */
export const loginSchema = {
  headers: clientIpHeaders,
  body: identity.login.body,
  response: { 200: identity.loginAnswer },
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
