// § Identity and access (docs/api.md), served by auth behind the gateway. Both validate with these:
// the gateway on the way in and out, auth again on its own routes. The response views name
// exactly what leaves, so a password hash or a token in a list can never be serialised.
import { API_KEY_SCOPES, GRANT_ACTIONS, ROLES } from '@flow8/authz';
import { listQuery, listResponse } from '@flow8/http';

/** API keys live at most this long; without `expiresInDays` they get the default. */
export const API_KEY_MAX_EXPIRES_IN_DAYS = 365;
export const API_KEY_DEFAULT_EXPIRES_IN_DAYS = 90;
/** The most CIDRs a company's IP allowlist may hold. */
export const ALLOWLIST_MAX_CIDRS = 100;

export const email = { type: 'string', format: 'email', minLength: 3, maxLength: 254 } as const;
/** Length only: the policy (common passwords, e-mail name part, bcrypt's 72 bytes) is auth's. */
export const password = { type: 'string', minLength: 1, maxLength: 256 } as const;
const role = { type: 'string', enum: ROLES } as const;
const id = (prefix: string) => ({ type: 'string', pattern: `^${prefix}_[0-9a-z]{26}$` }) as const;
const idParams = (prefix: string) =>
  ({ type: 'object', additionalProperties: false, required: ['id'], properties: { id: id(prefix) } }) as const;
const noContent = { type: 'null' } as const;

// --- sessions ---------------------------------------------------------------------------------

const loginUser = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'email', 'role', 'tenantId'],
  properties: { id: { type: 'string' }, email: { type: 'string' }, role, tenantId: { type: 'string' } },
} as const;

/** Public: the session token travels only in the cookie the gateway sets, never in this body. */
export const login = {
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
      required: ['user', 'csrfToken', 'expiresAt'],
      properties: { user: loginUser, csrfToken: { type: 'string' }, expiresAt: { type: 'string' } },
    },
  },
} as const;

/** What auth answers the gateway on login (mTLS, internal): the session token for the cookie. */
export const loginAnswer = {
  type: 'object',
  additionalProperties: false,
  required: ['sessionToken', 'csrfToken', 'expiresAt', 'user'],
  properties: { sessionToken: { type: 'string' }, ...login.response[200].properties },
} as const;

export const logout = { response: { 204: noContent } } as const;

export const changePassword = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['currentPassword', 'newPassword'],
    properties: { currentPassword: password, newPassword: password },
  },
  response: { 204: noContent },
} as const;

/** Answered by the gateway itself, from the verified principal. */
export const me = {
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
  },
} as const;

// --- users ------------------------------------------------------------------------------------

export const userView = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'email', 'role', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    email: { type: 'string' },
    role,
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

export const userIdParams = idParams('usr');

export const listUsers = { querystring: listQuery, response: { 200: listResponse(userView) } } as const;

export const createUser = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['email', 'password', 'role'],
    properties: { email, password, role },
  },
  response: { 201: userView },
} as const;

export const getUser = { params: userIdParams, response: { 200: userView } } as const;

export const updateUser = {
  params: userIdParams,
  body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { email, role } },
  response: { 200: userView },
} as const;

export const removeUser = { params: userIdParams, response: { 204: noContent } } as const;

// --- grants and partitions ------------------------------------------------------------------

const grantPrincipal = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id'],
  properties: {
    type: { type: 'string', enum: ['user', 'api_key'] },
    id: { type: 'string', pattern: '^(usr|key)_[0-9a-z]{26}$' },
  },
} as const;

/**
 * Resource ids: a flow is `flw_…`, a partition `prt_…`; an integration is named by the vault
 * (`crd_…`) or by its connector, hence the looser pattern. The per-type rules (which actions
 * apply to which type) are packages/authz's validateGrant.
 */
const grantResource = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id'],
  properties: {
    type: { type: 'string', enum: ['flow', 'integration', 'partition'] },
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9_.:-]{0,127}$' },
  },
} as const;

const GRANT_ACTION_NAMES = [...new Set(Object.values(GRANT_ACTIONS).flat())];

export const grantView = {
  type: 'object',
  additionalProperties: false,
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

export const listGrants = {
  querystring: {
    ...listQuery,
    properties: {
      ...listQuery.properties,
      principalId: { type: 'string', pattern: '^(usr|key)_[0-9a-z]{26}$' },
      resourceId: { type: 'string', minLength: 1, maxLength: 128 },
    },
  },
  response: { 200: listResponse(grantView) },
} as const;

export const giveGrant = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['principal', 'resource', 'actions'],
    properties: {
      principal: grantPrincipal,
      resource: grantResource,
      actions: {
        type: 'array',
        minItems: 1,
        maxItems: 20,
        uniqueItems: true,
        items: { type: 'string', enum: GRANT_ACTION_NAMES },
      },
    },
  },
  response: { 201: grantView },
} as const;

export const removeGrant = { params: idParams('grt'), response: { 204: noContent } } as const;

export const partitionView = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'description', 'createdAt'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    description: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
} as const;

export const listPartitions = { querystring: listQuery, response: { 200: listResponse(partitionView) } } as const;

export const createPartition = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
      description: { type: 'string', maxLength: 2000 },
    },
  },
  response: { 201: partitionView },
} as const;

// --- API keys ---------------------------------------------------------------------------------

const expiresInDays = { type: 'integer', minimum: 1, maximum: API_KEY_MAX_EXPIRES_IN_DAYS } as const;

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
const apiKeyRequired = Object.keys(apiKeyProperties);

/** An API key's metadata: never the token. */
export const apiKeyView = {
  type: 'object',
  additionalProperties: false,
  required: apiKeyRequired,
  properties: apiKeyProperties,
} as const;

/** The answer of the routes that issue a token (create, rotate): the only place it appears. */
export const issuedApiKeyView = {
  type: 'object',
  additionalProperties: false,
  required: [...apiKeyRequired, 'token'],
  properties: {
    ...apiKeyProperties,
    token: { type: 'string', description: 'The API key. Shown once, here.' },
  },
} as const;

export const apiKeyIdParams = idParams('key');

export const listApiKeys = { querystring: listQuery, response: { 200: listResponse(apiKeyView) } } as const;

export const createApiKey = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'scopes'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' },
      scopes: {
        type: 'array',
        minItems: 1,
        maxItems: 64,
        uniqueItems: true,
        items: { type: 'string', enum: API_KEY_SCOPES },
      },
      cidrs: { type: 'array', maxItems: 64, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 64 } },
      expiresInDays: { ...expiresInDays, default: API_KEY_DEFAULT_EXPIRES_IN_DAYS },
    },
  },
  response: { 201: issuedApiKeyView },
} as const;

export const rotateApiKey = {
  params: apiKeyIdParams,
  body: { type: ['object', 'null'], additionalProperties: false, properties: { expiresInDays } },
  response: { 201: issuedApiKeyView },
} as const;

export const revokeApiKey = { params: apiKeyIdParams, response: { 204: noContent } } as const;

// --- IP allowlist -----------------------------------------------------------------------------

export const allowlistView = {
  type: 'object',
  additionalProperties: false,
  required: ['cidrs', 'updatedAt'],
  properties: { cidrs: { type: 'array', items: { type: 'string' } }, updatedAt: { type: ['string', 'null'] } },
} as const;

export const getAllowlist = { response: { 200: allowlistView } } as const;

export const putAllowlist = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['cidrs'],
    properties: {
      cidrs: { type: 'array', maxItems: ALLOWLIST_MAX_CIDRS, items: { type: 'string', minLength: 1, maxLength: 64 } },
    },
  },
  response: { 200: allowlistView },
} as const;

// --- companies (platform operator) ----------------------------------------------------------

export const createTenant = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'slug', 'admin'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
      // 2 to 63 characters, starting and ending with a letter or digit (a DNS label).
      slug: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$' },
      admin: {
        type: 'object',
        additionalProperties: false,
        required: ['email', 'password'],
        properties: { email, password },
      },
    },
  },
  response: {
    201: {
      type: 'object',
      additionalProperties: false,
      required: ['tenant', 'admin'],
      properties: {
        tenant: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'name', 'slug', 'createdAt'],
          properties: {
            id: { type: 'string' },
            name: { type: 'string' },
            slug: { type: 'string' },
            createdAt: { type: 'string' },
          },
        },
        admin: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'email', 'role', 'createdAt'],
          properties: {
            id: { type: 'string' },
            email: { type: 'string' },
            role: { type: 'string', const: 'admin' },
            createdAt: { type: 'string' },
          },
        },
      },
    },
  },
} as const;
