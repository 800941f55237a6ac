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

export function newRequestId(): string {
  return `req_${randomBytes(12).toString('base64url')}`;
}

/** The incoming `x-request-id` when it is a safe token, else a freshly generated id. */
export function requestIdFor(raw: Pick<IncomingMessage, 'headers'>): string {
  const incoming = raw.headers[REQUEST_ID_HEADER];
  return isSafeRequestId(incoming) ? incoming : newRequestId();
}
