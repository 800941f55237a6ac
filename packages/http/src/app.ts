import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { AjvCompiler } from '@fastify/ajv-compiler';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import { AppError } from './errors';
import { errorBody, sendError } from './error-handler';
import { installHealthRoutes, type ReadinessCheck } from './health';
import { installTextGuard } from './text-guard';
import { installHttpMetrics } from './metrics';
import { newRequestId, REQUEST_ID_HEADER, requestIdFor } from './request-id';
import { installTracing } from './tracing';

export interface ServiceTlsOptions {
  key: string | Buffer;
  cert: string | Buffer;
  /** The private CA that signs service certificates; required for requestClientCert. */
  ca?: string | Buffer;
  /** mTLS: refuse, at the handshake, every client without a certificate from `ca`. */
  requestClientCert?: boolean;
}

export interface ServiceAppOptions {
  /** Service name, bound into every log line. */
  service: string;
  /** A pino (or pino-compatible) logger, normally from @flow8/telemetry. */
  logger: FastifyBaseLogger;
  tls?: ServiceTlsOptions;
  /** Largest accepted request body in bytes. Default 1 MiB. */
  bodyLimit?: number;
  /** Named dependency checks for GET /readyz; each gets READINESS_TIMEOUT_MS. */
  readiness?: Record<string, ReadinessCheck>;
  trustProxy?: boolean | string[];
  /** Time allowed to receive a whole request (slow-client protection). Default 30 s. */
  requestTimeoutMs?: number;
  /** Deepest JSON nesting a body may have (DEFAULT_MAX_JSON_DEPTH, 64). */
  maxJsonDepth?: number;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const PROBE_PATHS = new Set(['/healthz', '/readyz']);

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
};
const HSTS = 'max-age=63072000; includeSubDomains';

/**
 * Node's HTTP parser refuses some requests before Fastify ever sees them (headers too large,
 * a malformed request line or header, a bad chunk of a chunked body, a request that took too
 * long). Fastify's default answer has its own body shape and no security headers; this one
 * answers in the error model, with the headers every other response carries, then closes.
 */
function answerClientError(
  err: Error & { code?: string },
  socket: Socket,
  ctx: { logger: FastifyBaseLogger; tls: boolean },
): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const message =
    status === 431
      ? 'Request headers are too large'
      : status === 408
        ? 'The request took too long to arrive'
        : 'Malformed HTTP request';
  const requestId = newRequestId();
  ctx.logger.info(
    { requestId, statusCode: status, reason: err.code ?? 'client error' },
    'request rejected by the HTTP parser',
  );
  // A response already on its way (its head written) cannot be followed by another: just close.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify(errorBody({ status, code: 'BAD_REQUEST', message, serverFault: false }, requestId));
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      ...(ctx.tls ? { 'strict-transport-security': HSTS } : {}),
      'cache-control': 'no-store',
      [REQUEST_ID_HEADER]: requestId,
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      connection: 'close',
    };
    const head = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Bad Request'}\r\n${head}\r\n${body}`);
  }
  socket.destroy();
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * Fastify's default request logs print the full URL (query strings carry OAuth codes and
 * the like) and the whole request object. This keeps one line per request, with the path
 * only, and puts the probes' lines at debug so they do not drown the log.
 */
class ServiceLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const path = pathOf(request.url);
    const line = {
      method: request.method,
      route: request.routeOptions.url,
      path,
      statusCode: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else if (PROBE_PATHS.has(path)) reply.log.debug(line, 'request completed');
    else reply.log.info(line, 'request completed');
  }
}

/**
 * Ajv coerces types where the wire format has no types (querystring, params, headers are
 * all strings). A JSON body already has types, so coercing it would silently turn
 * `"amount": "12"` into 12 or `"ids": "a"` into ["a"]; bodies are validated strictly.
 */
function buildValidatorFactory(): NonNullable<
  NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']
> {
  const pool = AjvCompiler();
  const base = { removeAdditional: false, allErrors: true, useDefaults: true } as const;
  return (externalSchemas, options) => {
    const plugins = options?.mode === 'JTD' ? undefined : options?.plugins;
    const strict = pool(externalSchemas, {
      ...(plugins ? { plugins } : {}),
      customOptions: { ...base, coerceTypes: false },
    });
    const coercing = pool(externalSchemas, {
      ...(plugins ? { plugins } : {}),
      customOptions: { ...base, coerceTypes: 'array' },
    });
    return (route) => (route.httpPart === 'body' ? strict(route) : coercing(route));
  };
}

/**
 * A Fastify instance with the flow8 service conventions wired in. It never listens: tests
 * use `app.inject`, `main.ts` hands it to `serve`.
 */
export function buildServiceApp(opts: ServiceAppOptions): FastifyInstance {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const tls = opts.tls;
  if (tls?.requestClientCert && tls.ca === undefined) {
    // Without our CA Node would verify client certs against the public roots — any
    // publicly issued certificate would then pass as a service identity.
    throw new Error('tls.requestClientCert needs tls.ca (the CA that signs service certificates)');
  }

  const serviceLogger = opts.logger.child({ service: opts.service });
  const common = {
    loggerInstance: serviceLogger,
    logController: new ServiceLogController({ requestIdLogLabel: 'requestId' }),
    genReqId: requestIdFor,
    bodyLimit,
    requestTimeout: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    trustProxy: opts.trustProxy ?? false,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    schemaController: { compilersFactory: { buildValidator: buildValidatorFactory() } },
    clientErrorHandler: (err: Error & { code?: string }, socket: Socket) => {
      answerClientError(err, socket, { logger: serviceLogger, tls: tls !== undefined });
    },
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      // Bad URLs are rejected before routing, so no hook has run: add the headers here.
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
      if (tls) reply.header('strict-transport-security', HSTS);
      reply.header('cache-control', 'no-store');
      sendError(error, request, reply);
    },
  } satisfies FastifyServerOptions;

  // The HTTPS overload of fastify() is typed with https.Server; callers only need the
  // instance API (routes, hooks, inject), which is the same for both server kinds.
  const app: FastifyInstance = tls
    ? (Fastify({
        ...common,
        https: {
          key: tls.key,
          cert: tls.cert,
          ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
          minVersion: 'TLSv1.2',
          ...(tls.requestClientCert ? { requestCert: true, rejectUnauthorized: true } : {}),
        },
      }) as unknown as FastifyInstance)
    : Fastify(common);

  installTracing(app);
  installHttpMetrics(app);
  // Before any route: NUL, invalid UTF-8 and deep JSON are refused for every route of every service.
  installTextGuard(app, opts.maxJsonDepth === undefined ? {} : { maxJsonDepth: opts.maxJsonDepth });

  // onSend runs for every payload Fastify sends — handlers, errors, the 404 handler. One
  // precomputed header object per response keeps this off the hot path's profile.
  const fixedHeaders: Record<string, string> = tls
    ? { ...SECURITY_HEADERS, 'strict-transport-security': HSTS }
    : { ...SECURITY_HEADERS };
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.headers(fixedHeaders);
    reply.header(REQUEST_ID_HEADER, request.id);
    // Everything a flow8 service returns is per-user and often sensitive; nothing is meant
    // for shared caches. A handler that wants caching sets its own Cache-Control.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });

  app.setErrorHandler((error: unknown, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => sendError(new AppError('NOT_FOUND', 'Route not found'), request, reply));

  installHealthRoutes(app, opts.readiness ?? {});
  return app;
}
