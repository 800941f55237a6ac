// Route schemas: everything that comes in is validated; response schemas name exactly what
// leaves, so a password hash can never be serialised even if a query returned one.
import { listQuery, listResponse } from '@flow8/http';
import { ROLES } from '../../principal';

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
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['email', 'password', 'role'],
    properties: { email, password, role: { enum: [...ROLES] } },
  },
  response: { 201: userView },
} as const;

export const listUsersSchema = {
  querystring: listQuery,
  response: {
    200: listResponse(userView),
  },
} as const;

export const userIdParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^usr_[0-9a-z]{26}$' } },
} as const;

export const getUserSchema = { params: userIdParams, response: { 200: userView } } as const;

export const updateUserSchema = {
  params: userIdParams,
  body: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: { email, role: { enum: [...ROLES] } },
  },
  response: { 200: userView },
} as const;

export const removeUserSchema = { params: userIdParams, response: { 204: { type: 'null' } } } as const;
