import { email, password } from '../users/users.schemas';

export const createTenantSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'slug', 'admin'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
      slug: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{1,62}$' },
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
            role: { const: 'admin' },
            createdAt: { type: 'string' },
          },
        },
      },
    },
  },
} as const;
