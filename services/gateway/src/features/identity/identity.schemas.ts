import { listResponse } from '@flow8/http';
import {
  cookieOnly,
  errors,
  idParam,
  listQuery,
  operatorSecurity,
  ROLE_ENUM,
  userSecurity,
} from '../../schemas/common';

const tags = ['identity'];
const email = { type: 'string', format: 'email', maxLength: 254 } as const;
const password = { type: 'string', minLength: 1, maxLength: 256 } as const;
const role = { type: 'string', enum: ROLE_ENUM } as const;

const user = {
  type: 'object',
  required: ['id', 'email', 'role'],
  properties: {
    id: { type: 'string' },
    tenantId: { type: 'string' },
    email: { type: 'string' },
    role,
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

export const loginSchema = {
  summary: 'Sign in with e-mail and password; sets the session cookie',
  description:
    'Sets `__Host-flow8_session` (Secure, HttpOnly, SameSite=Strict, 1 h). The body carries the CSRF token for later writes; the session token itself is only ever in the cookie.',
  tags,
  security: [],
  body: {
    type: 'object',
    required: ['tenant', 'email', 'password'],
    additionalProperties: false,
    properties: { tenant: { type: 'string', minLength: 1, maxLength: 100 }, email, password },
  },
  response: {
    200: {
      type: 'object',
      required: ['user', 'csrfToken', 'expiresAt'],
      properties: { user, csrfToken: { type: 'string' }, expiresAt: { type: 'string' } },
    },
    ...errors(),
  },
} as const;

export const logoutSchema = {
  summary: 'End the session everywhere and clear the cookie',
  tags,
  security: cookieOnly,
  response: { 204: { type: 'null', description: 'Signed out' }, ...errors() },
} as const;

export const changePasswordSchema = {
  summary: 'Change one’s own password (session only)',
  description:
    'The current password is required (wrong: 403). Ends **every** session of the user, this one ' +
    'included: the cookie is cleared and the user signs in again with the new password. The new ' +
    'password must pass the password policy (400 with the reason).',
  tags,
  security: cookieOnly,
  body: {
    type: 'object',
    required: ['currentPassword', 'newPassword'],
    additionalProperties: false,
    properties: { currentPassword: password, newPassword: password },
  },
  response: { 204: { type: 'null', description: 'Changed; every session of the user ended' }, ...errors() },
} as const;

export const meSchema = {
  summary: 'Who am I: user or API key, tenant, role, effective permissions',
  tags,
  security: userSecurity,
  response: {
    200: {
      type: 'object',
      required: ['type', 'id', 'tenantId', 'role', 'scopes', 'permissions', 'clientIp'],
      properties: {
        type: { type: 'string', enum: ['user', 'api_key'] },
        id: { type: 'string' },
        tenantId: { type: 'string' },
        role: { type: ['string', 'null'] },
        scopes: { type: 'array', items: { type: 'string' } },
        permissions: { type: 'array', items: { type: 'string' } },
        clientIp: { type: 'string', description: 'The client address as the gateway sees it' },
      },
    },
    ...errors(),
  },
} as const;

export const listUsersSchema = {
  summary: 'List the company’s users (Admin)',
  tags,
  security: userSecurity,
  querystring: listQuery,
  response: { 200: listResponse(user), ...errors() },
} as const;

export const createUserSchema = {
  summary: 'Create a user (Admin)',
  tags,
  security: userSecurity,
  body: {
    type: 'object',
    required: ['email', 'password', 'role'],
    additionalProperties: false,
    properties: { email, password, role },
  },
  response: { 201: user, ...errors(409) },
} as const;

export const getUserSchema = {
  summary: 'Read a user (Admin)',
  tags,
  security: userSecurity,
  params: idParam('usr'),
  response: { 200: user, ...errors(404) },
} as const;

export const patchUserSchema = {
  summary: 'Change a user’s e-mail or role (Admin)',
  tags,
  security: userSecurity,
  params: idParam('usr'),
  body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { email, role } },
  response: { 200: user, ...errors(404) },
} as const;

export const deleteUserSchema = {
  summary: 'Remove a user (Admin)',
  tags,
  security: userSecurity,
  params: idParam('usr'),
  response: { 204: { type: 'null', description: 'Removed' }, ...errors(404) },
} as const;

const grantPrincipal = {
  type: 'object',
  required: ['type', 'id'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', enum: ['user', 'api_key'] },
    id: { type: 'string', pattern: '^(usr|key)_[0-9a-z]{26}$' },
  },
} as const;

const grantResource = {
  type: 'object',
  required: ['type', 'id'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', enum: ['flow', 'integration', 'partition'] },
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9_.:-]{0,127}$' },
  },
} as const;

const grant = {
  type: 'object',
  required: ['id', 'principal', 'resource', 'actions', 'createdAt', 'createdBy'],
  properties: {
    id: { type: 'string' },
    principal: grantPrincipal,
    resource: grantResource,
    actions: { type: 'array', items: { type: 'string' } },
    createdAt: { type: 'string' },
    createdBy: { type: 'string' },
  },
} as const;

export const listGrantsSchema = {
  summary: 'List entity grants (Admin)',
  tags,
  security: userSecurity,
  querystring: {
    ...listQuery,
    properties: {
      ...listQuery.properties,
      principalId: { type: 'string', pattern: '^(usr|key)_[0-9a-z]{26}$' },
      resourceId: { type: 'string', minLength: 1, maxLength: 128 },
    },
  },
  response: { 200: listResponse(grant), ...errors() },
} as const;

export const createGrantSchema = {
  summary: 'Grant actions on a flow, integration or partition (Admin)',
  tags,
  security: userSecurity,
  body: {
    type: 'object',
    required: ['principal', 'resource', 'actions'],
    additionalProperties: false,
    properties: {
      principal: grantPrincipal,
      resource: grantResource,
      actions: {
        type: 'array',
        minItems: 1,
        maxItems: 20,
        uniqueItems: true,
        items: { type: 'string', maxLength: 64 },
      },
    },
  },
  response: { 201: grant, ...errors(404, 409) },
} as const;

export const deleteGrantSchema = {
  summary: 'Revoke a grant (Admin)',
  tags,
  security: userSecurity,
  params: idParam('grt'),
  response: { 204: { type: 'null', description: 'Revoked' }, ...errors(404) },
} as const;

const partition = {
  type: 'object',
  required: ['id', 'name', 'createdAt'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    description: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
} as const;

export const listPartitionsSchema = {
  summary: 'List data partitions (Admin)',
  tags,
  security: userSecurity,
  querystring: listQuery,
  response: { 200: listResponse(partition), ...errors() },
} as const;

export const createPartitionSchema = {
  summary: 'Create a data partition (Admin)',
  tags,
  security: userSecurity,
  body: {
    type: 'object',
    required: ['name'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200 },
      description: { type: 'string', maxLength: 2000 },
    },
  },
  response: { 201: partition, ...errors(409) },
} as const;

const apiKeyProperties = {
  id: { type: 'string' },
  name: { type: 'string' },
  ownerId: { type: 'string' },
  role,
  scopes: { type: 'array', items: { type: 'string' } },
  cidrs: { type: 'array', items: { type: 'string' } },
  kid: { type: 'string' },
  status: { type: 'string', enum: ['active', 'revoked', 'expired'] },
  createdAt: { type: 'string' },
  expiresAt: { type: 'string' },
  revokedAt: { type: ['string', 'null'] },
  rotatedFrom: { type: ['string', 'null'] },
} as const;

const apiKey = { type: 'object', required: ['id', 'name', 'scopes', 'status'], properties: apiKeyProperties } as const;

const apiKeyWithToken = {
  type: 'object',
  required: ['id', 'token'],
  properties: { ...apiKeyProperties, token: { type: 'string', description: 'The API key. Shown once, here.' } },
} as const;

const expiresInDays = { type: 'integer', minimum: 1, maximum: 3650 } as const;

export const listApiKeysSchema = {
  summary: 'List API keys (Admin: all; others: their own)',
  tags,
  security: userSecurity,
  querystring: listQuery,
  response: { 200: listResponse(apiKey), ...errors() },
} as const;

export const createApiKeySchema = {
  summary: 'Create an API key; the token is shown once',
  tags,
  security: userSecurity,
  body: {
    type: 'object',
    required: ['name', 'scopes'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' },
      scopes: { type: 'array', minItems: 1, maxItems: 64, uniqueItems: true, items: { type: 'string', maxLength: 64 } },
      cidrs: { type: 'array', maxItems: 64, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 64 } },
      expiresInDays,
    },
  },
  response: { 201: apiKeyWithToken, ...errors() },
} as const;

export const rotateApiKeySchema = {
  summary: 'Rotate an API key: the old token stops working at once',
  tags,
  security: userSecurity,
  params: idParam('key'),
  body: { type: ['object', 'null'], additionalProperties: false, properties: { expiresInDays } },
  response: { 201: apiKeyWithToken, ...errors(404) },
} as const;

export const deleteApiKeySchema = {
  summary: 'Revoke an API key, effective at every gateway replica at once',
  tags,
  security: userSecurity,
  params: idParam('key'),
  response: { 204: { type: 'null', description: 'Revoked' }, ...errors(404) },
} as const;

const allowlist = {
  type: 'object',
  required: ['cidrs'],
  properties: { cidrs: { type: 'array', items: { type: 'string' } }, updatedAt: { type: ['string', 'null'] } },
} as const;

export const getAllowlistSchema = {
  summary: 'The company’s IP allowlist (Admin); empty means no restriction',
  tags,
  security: userSecurity,
  response: { 200: allowlist, ...errors() },
} as const;

export const putAllowlistSchema = {
  summary: 'Replace the company’s IP allowlist (Admin)',
  tags,
  security: userSecurity,
  body: {
    type: 'object',
    required: ['cidrs'],
    additionalProperties: false,
    properties: { cidrs: { type: 'array', maxItems: 256, items: { type: 'string', maxLength: 64 } } },
  },
  response: { 200: allowlist, ...errors() },
} as const;

export const createTenantSchema = {
  summary: 'Create a company and its first Admin (platform operator token)',
  tags: ['operator'],
  security: operatorSecurity,
  body: {
    type: 'object',
    required: ['name', 'slug', 'admin'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200 },
      slug: { type: 'string', pattern: '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$' },
      admin: {
        type: 'object',
        required: ['email', 'password'],
        additionalProperties: false,
        properties: { email, password },
      },
    },
  },
  response: {
    201: {
      type: 'object',
      required: ['tenant', 'admin'],
      properties: {
        tenant: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            name: { type: 'string' },
            slug: { type: 'string' },
            createdAt: { type: 'string' },
          },
        },
        admin: user,
      },
    },
    ...errors(409),
  },
} as const;
