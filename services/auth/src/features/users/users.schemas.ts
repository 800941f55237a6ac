// Route schemas: everything that comes in is validated; response schemas name exactly what
// leaves, so a password hash can never be serialised even if a query returned one.
import { callerHeaders, ROLES } from '../../principal';

export const email = { type: 'string', format: 'email', minLength: 3, maxLength: 254 } as const;
/** Length only: the policy (common passwords, e-mail name part, bcrypt's 72 bytes) is in password.ts. */
export const password = { type: 'string', minLength: 1, maxLength: 256 } as const;

export const userView = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'email', 'role', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    email: { type: 'string' },
    role: { enum: [...ROLES] },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

export const createUserSchema = {
  headers: callerHeaders,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['email', 'password', 'role'],
    properties: { email, password, role: { enum: [...ROLES] } },
  },
  response: { 201: userView },
} as const;

export const listUsersSchema = {
  headers: callerHeaders,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
      cursor: { type: 'string', minLength: 1, maxLength: 200 },
    },
  },
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['items', 'nextCursor'],
      properties: { items: { type: 'array', items: userView }, nextCursor: { type: ['string', 'null'] } },
    },
  },
} as const;

export const getUserSchema = {
  headers: callerHeaders,
  params: {
    type: 'object',
    additionalProperties: false,
    required: ['id'],
    properties: { id: { type: 'string', pattern: '^usr_[0-9a-z]{26}$' } },
  },
  response: { 200: userView },
} as const;
