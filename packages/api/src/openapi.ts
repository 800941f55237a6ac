// What the OpenAPI document says about every route besides its own schemas: the error model, the
// error responses a guarded route can give, and the security requirement of each kind of caller.
import type { AuthKind } from '@flow8/authz';

export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'requestId'],
      properties: {
        code: {
          type: 'string',
          enum: [
            'BAD_REQUEST',
            'UNAUTHENTICATED',
            'FORBIDDEN',
            'NOT_FOUND',
            'CONFLICT',
            'RATE_LIMITED',
            'IP_NOT_ALLOWED',
            'UNAVAILABLE',
            'INTERNAL',
          ],
        },
        message: { type: 'string' },
        requestId: { type: 'string' },
        details: {},
      },
    },
  },
} as const;

const ERROR_TEXT = {
  400: 'Invalid request (BAD_REQUEST)',
  401: 'Not authenticated (UNAUTHENTICATED)',
  403: 'Not allowed (FORBIDDEN, IP_NOT_ALLOWED, or a failed CSRF check)',
  404: 'Not found, or another company’s (NOT_FOUND)',
  409: 'Conflict (CONFLICT)',
  413: 'Request body too large (BAD_REQUEST)',
  429: 'Rate limited (RATE_LIMITED); see Retry-After',
  500: 'Internal error (INTERNAL)',
  503: 'A dependency is unavailable (UNAVAILABLE)',
} as const;

export type ErrorStatus = keyof typeof ERROR_TEXT;

/** Error responses every guarded route can give, plus the route's own. */
export function errors(...extra: ErrorStatus[]) {
  const statuses = new Set<ErrorStatus>([400, 401, 403, 429, 500, 503, ...extra]);
  const out: Record<string, { description: string } & typeof errorSchema> = {};
  for (const s of [...statuses].sort()) out[String(s)] = { description: ERROR_TEXT[s], ...errorSchema };
  return out;
}

export type Security = Array<Record<string, string[]>>;

/** The OpenAPI security schemes the gateway declares (the names below refer to them). */
export const securitySchemes = {
  cookieAuth: { type: 'apiKey', in: 'cookie', name: '__Host-flow8_session' },
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT (API key) or the operator token on POST /v1/tenants',
  },
} as const;

/** A route's OpenAPI security requirement from the credentials it accepts (none: public). */
export function securityOf(auth: readonly AuthKind[]): Security {
  const out: Security = [];
  if (auth.includes('session')) out.push({ cookieAuth: [] });
  if (auth.includes('api_key') || auth.includes('operator')) out.push({ bearerAuth: [] });
  return out;
}
