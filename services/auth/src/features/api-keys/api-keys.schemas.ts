// The internal JWKS route's schema; the public API-key routes' schemas are @flow8/api's (identity).
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
