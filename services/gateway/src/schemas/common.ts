// Pieces every route schema uses: the error model, security requirements and tags, so the
// OpenAPI document (generated from these schemas) says the same as the code.
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

type ErrorStatus = keyof typeof ERROR_TEXT;

/** Error responses every guarded route can give, plus the route's own. */
export function errors(...extra: ErrorStatus[]) {
  const statuses = new Set<ErrorStatus>([400, 401, 403, 429, 500, 503, ...extra]);
  const out: Record<string, { description: string } & typeof errorSchema> = {};
  for (const s of [...statuses].sort()) out[String(s)] = { description: ERROR_TEXT[s], ...errorSchema };
  return out;
}

/** Session cookie (writes need x-csrf-token) or API key. */
type Security = Array<Record<string, string[]>>;
export const userSecurity: Security = [{ cookieAuth: [] }, { bearerAuth: [] }];
export const cookieOnly: Security = [{ cookieAuth: [] }];
export const operatorSecurity: Security = [{ bearerAuth: [] }];

export const idParam = (prefix: string) =>
  ({
    type: 'object',
    required: ['id'],
    additionalProperties: false,
    properties: { id: { type: 'string', pattern: `^${prefix}_[0-9a-z]{26}$` } },
  }) as const;

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
    cursor: { type: 'string', maxLength: 200 },
  },
} as const;

export const ROLE_ENUM = ['admin', 'flow_designer', 'executor', 'viewer'] as const;
