import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorBody, type ErrorCode, statusFor } from './errors';
import { REQUEST_ID_HEADER } from './request-id';
import { recordServerError } from './tracing';
import { isDependencyUnavailable, UNAVAILABLE_RETRY_AFTER_SECONDS } from './unavailable';

/** One ajv error as clients see it: where, and what is wrong — never the submitted value. */
export interface ValidationIssue {
  field: string;
  instancePath: string;
  message: string;
}

export interface MappedError {
  status: number;
  code: ErrorCode;
  message: string;
  details?: unknown;
  /** true when the cause is ours (5xx): logged at error level with the full error. */
  serverFault: boolean;
}

// allErrors is on so a client sees every problem at once; cap what we echo so a body with
// thousands of bad items does not turn into a huge error response.
const MAX_ISSUES = 20;
const MAX_FIELD_LENGTH = 200;

// Fastify's own client errors whose messages are fixed strings (no request data interpolated).
const STATIC_FASTIFY_MESSAGES = new Set([
  'FST_ERR_CTP_INVALID_MEDIA_TYPE',
  'FST_ERR_CTP_INVALID_CONTENT_LENGTH',
  'FST_ERR_CTP_EMPTY_JSON_BODY',
  'FST_ERR_CTP_INVALID_JSON_BODY',
]);

const MASKED_5XX: Record<'INTERNAL' | 'UNAVAILABLE', string> = {
  INTERNAL: 'Internal error',
  UNAVAILABLE: 'Service temporarily unavailable',
};

interface AjvLikeError {
  instancePath?: unknown;
  keyword?: unknown;
  message?: unknown;
  params?: unknown;
}

function prop(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function clip(text: string): string {
  return text.length > MAX_FIELD_LENGTH ? `${text.slice(0, MAX_FIELD_LENGTH)}…` : text;
}

/** `/steps/0/name` in `body` → `body.steps[0].name`, the form people read in a message. */
function fieldName(context: string, pointer: string): string {
  const segments = pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = context;
  for (const segment of segments) out += /^\d+$/.test(segment) ? `[${segment}]` : `.${segment}`;
  return clip(out);
}

function toIssue(context: string, error: AjvLikeError): ValidationIssue {
  const instancePath = typeof error.instancePath === 'string' ? error.instancePath : '';
  const params = error.params;
  // ajv reports a missing or extra property on the parent object; name the property itself.
  if (error.keyword === 'required' && typeof prop(params, 'missingProperty') === 'string') {
    const child = `${instancePath}/${String(prop(params, 'missingProperty'))}`;
    return { field: fieldName(context, child), instancePath: clip(child), message: 'is required' };
  }
  if (error.keyword === 'additionalProperties' && typeof prop(params, 'additionalProperty') === 'string') {
    const child = `${instancePath}/${String(prop(params, 'additionalProperty'))}`;
    return { field: fieldName(context, child), instancePath: clip(child), message: 'is not allowed' };
  }
  // ajv's built-in messages describe the rule ("must be string", "must match format \"email\"")
  // and never include the data; `verbose` (which would attach the data) is off.
  const message = typeof error.message === 'string' ? error.message : 'is invalid';
  return { field: fieldName(context, instancePath), instancePath: clip(instancePath), message };
}

function validationError(err: unknown): MappedError | null {
  const validation = prop(err, 'validation');
  if (!Array.isArray(validation)) return null;
  const context =
    typeof prop(err, 'validationContext') === 'string' ? String(prop(err, 'validationContext')) : 'request';
  const issues = (validation as AjvLikeError[]).slice(0, MAX_ISSUES).map((e) => toIssue(context, e));
  const first = issues[0];
  const more = validation.length - 1;
  const message = first
    ? `Invalid request: ${first.field} ${first.message}${more > 0 ? ` (and ${more} more)` : ''}`
    : 'Invalid request';
  return { status: 400, code: 'BAD_REQUEST', message, details: issues, serverFault: false };
}

function codeForClientStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'CONFLICT';
    case 429:
      return 'RATE_LIMITED';
    default:
      return 'BAD_REQUEST';
  }
}

function messageForClientStatus(status: number): string {
  switch (status) {
    case 401:
      return 'Authentication required';
    case 403:
      return 'Forbidden';
    case 404:
      return 'Not found';
    case 405:
      return 'Method not allowed';
    case 409:
      return 'Conflict';
    case 413:
      return 'Request body is too large';
    case 414:
      return 'Request URL is too long';
    case 415:
      return 'Unsupported media type';
    case 429:
      return 'Too many requests';
    default:
      return 'Bad request';
  }
}

/**
 * Decides what a client sees for any thrown value. Only texts we wrote reach the client:
 * AppError messages for 4xx, fixed strings otherwise, so neither a driver's message nor a
 * fragment of the request (fastify interpolates URLs into some messages) is reflected.
 */
export function mapError(err: unknown, opts: { bodyLimit?: number } = {}): MappedError {
  if (err instanceof AppError) {
    if (err.status >= 500) {
      const code = err.code === 'UNAVAILABLE' || isDependencyUnavailable(err.cause) ? 'UNAVAILABLE' : 'INTERNAL';
      return { status: statusFor(code), code, message: MASKED_5XX[code], serverFault: true };
    }
    const mapped: MappedError = { status: err.status, code: err.code, message: err.message, serverFault: false };
    if (err.details !== undefined) mapped.details = err.details;
    return mapped;
  }

  const validation = validationError(err);
  if (validation) return validation;

  const statusCode = prop(err, 'statusCode');
  const fastifyCode = prop(err, 'code');
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    if (statusCode === 413) {
      const message =
        opts.bodyLimit === undefined
          ? 'Request body is too large'
          : `Request body is too large (limit ${opts.bodyLimit} bytes)`;
      return { status: 413, code: 'BAD_REQUEST', message, serverFault: false };
    }
    const message =
      typeof fastifyCode === 'string' && STATIC_FASTIFY_MESSAGES.has(fastifyCode) && err instanceof Error
        ? err.message
        : fastifyCode === 'FST_ERR_BAD_URL'
          ? 'Invalid URL encoding'
          : messageForClientStatus(statusCode);
    return { status: statusCode, code: codeForClientStatus(statusCode), message, serverFault: false };
  }
  if (statusCode === 503 || isDependencyUnavailable(err)) {
    return { status: 503, code: 'UNAVAILABLE', message: MASKED_5XX.UNAVAILABLE, serverFault: true };
  }
  return { status: 500, code: 'INTERNAL', message: MASKED_5XX.INTERNAL, serverFault: true };
}

export function errorBody(mapped: MappedError, requestId: string): ErrorBody {
  const body: ErrorBody = { error: { code: mapped.code, message: mapped.message, requestId } };
  if (mapped.details !== undefined) body.error.details = mapped.details;
  return body;
}

/** The error handler installed by buildServiceApp; also used for 404s and framework errors. */
export function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const mapped = mapError(err, { bodyLimit: request.routeOptions.bodyLimit });
  if (mapped.serverFault) {
    // The real error stays server-side; the request's logger is bound to its requestId, the
    // same id the client gets in the body, so an operator can find this line.
    request.log.error({ err, statusCode: mapped.status }, 'request failed');
    recordServerError(request, err);
  } else {
    // `errorCode`, not `code`: the logger redacts any field named `code` (OAuth authorization codes).
    request.log.info({ statusCode: mapped.status, errorCode: mapped.code, reason: mapped.message }, 'request rejected');
  }
  // A 503 is worth retrying: say when (unless the code that refused already did).
  if (mapped.status === 503 && !reply.hasHeader('retry-after')) {
    void reply.header('retry-after', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
  }
  return reply
    .code(mapped.status)
    .header(REQUEST_ID_HEADER, request.id)
    .type('application/json; charset=utf-8')
    .send(errorBody(mapped, request.id));
}
