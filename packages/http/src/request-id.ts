import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

// A caller-supplied id ends up in logs, spans and response headers; only a short token of
// plain characters is safe to carry there (no log forging via newlines, no header injection,
// no unbounded log lines).
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export function isSafeRequestId(value: unknown): value is string {
  return typeof value === 'string' && SAFE_REQUEST_ID.test(value);
}

// A random per-process prefix and a counter: unique across replicas and restarts, and cheaper
// than drawing random bytes on every request (request ids are correlation handles, not secrets).
const PREFIX = `req_${randomBytes(6).toString('base64url')}`;
let counter = 0;

export function newRequestId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${PREFIX}${counter.toString(36).padStart(8, '0')}`;
}

/** The incoming `x-request-id` when it is a safe token, else a freshly generated id. */
export function requestIdFor(raw: Pick<IncomingMessage, 'headers'>): string {
  const incoming = raw.headers[REQUEST_ID_HEADER];
  return isSafeRequestId(incoming) ? incoming : newRequestId();
}
