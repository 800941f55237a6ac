import { AppError } from './errors';

/** Keyset cursors for list routes (docs/api.md: `?limit=&cursor=` → `{items, nextCursor}`): the last id of a page, opaque to clients. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(JSON.stringify({ a: lastId })).toString('base64url');
}

export function decodeCursor(cursor: string, prefix: string): string {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { a?: unknown };
    if (typeof v.a === 'string' && new RegExp(`^${prefix}_[0-9a-z]{26}$`).test(v.a)) return v.a;
  } catch {
    // fall through
  }
  throw new AppError('BAD_REQUEST', 'cursor is not valid');
}

/** Slices a page fetched with limit + 1 rows into items and the next cursor. */
export function page<R extends { id: string }, V>(
  rows: R[],
  limit: number,
  view: (r: R) => V,
): { items: V[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items: items.map(view), nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
    cursor: { type: 'string', minLength: 1, maxLength: 200 },
  },
} as const;

/** The response schema of a list route: `{items: [item…], nextCursor}` and nothing else. */
export function listResponse<T extends object>(item: T) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['items', 'nextCursor'],
    properties: { items: { type: 'array', items: item }, nextCursor: { type: ['string', 'null'] } },
  } as const;
}
