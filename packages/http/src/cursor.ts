import { AppError } from './errors';

// The one cursor codec of flow8's list routes (docs/api.md: `?limit=&cursor=` → `{items, nextCursor}`):
// base64url JSON, opaque to clients. Two keysets exist: the last id of a page (`{a: id}`, every
// list of prefixed ids) and the last sequence number (`{s: seq}`, the audit log, newest first).
// Anything that does not decode to exactly that shape is a 400, never a query.

const invalid = () => new AppError('BAD_REQUEST', 'cursor is not valid');

function encodeJson(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeJson(cursor: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw invalid();
}

/** The cursor after a page whose last row has this id. */
export function encodeCursor(lastId: string): string {
  return encodeJson({ a: lastId });
}

/** The id a cursor points after; it must be a `<prefix>_…` id, or the request is a 400. */
export function decodeCursor(cursor: string, prefix: string): string {
  const v = decodeJson(cursor);
  if (typeof v.a === 'string' && new RegExp(`^${prefix}_[0-9a-z]{26}$`).test(v.a)) return v.a;
  throw invalid();
}

/** The cursor after a page whose last row has this sequence number. */
export function encodeSeqCursor(seq: number): string {
  return encodeJson({ s: seq });
}

/** The sequence number a cursor points after: a positive safe integer, or the request is a 400. */
export function decodeSeqCursor(cursor: string): number {
  const v = decodeJson(cursor);
  if (typeof v.s === 'number' && Number.isSafeInteger(v.s) && v.s > 0) return v.s;
  throw invalid();
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
