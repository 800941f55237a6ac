import type { FastifyInstance } from 'fastify';
import { type CallOptions, listenForTest, type TestResponse } from './__fixtures__/client';
import { captureLogs, type CapturedLogs } from './__fixtures__/logs';
import { buildServiceApp } from './app';
import { AppError, ERROR_CODES, type ErrorBody, type ErrorCode } from './errors';
import { markDraining } from './health';
import { requireServiceIdentity } from './identity';

interface Built {
  app: FastifyInstance;
  logs: CapturedLogs;
  call(opts: CallOptions): Promise<TestResponse>;
}

const running: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((app) => app.close()));
});

async function build(
  extra: Partial<Parameters<typeof buildServiceApp>[0]> = {},
  moreRoutes?: (app: FastifyInstance) => void,
): Promise<Built> {
  const logs = captureLogs();
  const app = buildServiceApp({ service: 'test-svc', logger: logs.logger, ...extra });
  app.get<{ Params: { code: string } }>('/throw/:code', async (request) => {
    throw new AppError(request.params.code as ErrorCode, `message for ${request.params.code}`, {
      details: { hint: 'see docs' },
    });
  });
  app.get('/boom', async () => {
    throw new Error('db password=hunter2');
  });
  app.post(
    '/items',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1 },
            quantity: { type: 'integer' },
            tags: { type: 'array', items: { type: 'string', maxLength: 5 } },
          },
        },
      },
    },
    async (request) => ({ received: request.body }),
  );
  app.get(
    '/search',
    { schema: { querystring: { type: 'object', properties: { limit: { type: 'integer', maximum: 100 } } } } },
    async (request) => ({ query: request.query }),
  );
  app.get('/internal', { preHandler: requireServiceIdentity(['gateway']) }, async () => ({ ok: true }));
  moreRoutes?.(app);
  running.push(app);
  const { call } = await listenForTest(app);
  return { app, logs, call };
}

function errorOf(body: string): ErrorBody['error'] {
  return (JSON.parse(body) as ErrorBody).error;
}

describe('error envelope', () => {
  const expected: Array<[ErrorCode, number]> = [
    ['BAD_REQUEST', 400],
    ['UNAUTHENTICATED', 401],
    ['FORBIDDEN', 403],
    ['NOT_FOUND', 404],
    ['CONFLICT', 409],
    ['RATE_LIMITED', 429],
    ['IP_NOT_ALLOWED', 403],
  ];

  it('covers every error code in the test table', () => {
    const covered = new Set<string>([...expected.map(([c]) => c), 'UNAVAILABLE', 'INTERNAL']);
    expect(covered).toEqual(new Set(ERROR_CODES));
  });

  it.each(expected)('AppError %s answers %i with its own message and details', async (code, status) => {
    const { call } = await build();
    const res = await call({ method: 'GET', url: `/throw/${code}`, headers: { 'x-request-id': 'trace-me-1' } });
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.body)).toEqual({
      error: { code, message: `message for ${code}`, requestId: 'trace-me-1', details: { hint: 'see docs' } },
    });
  });

  it.each([
    ['UNAVAILABLE', 503, 'Service temporarily unavailable'],
    ['INTERNAL', 500, 'Internal error'],
  ] as const)('AppError %s answers %i with a fixed message and no details', async (code, status, message) => {
    const { call } = await build();
    const res = await call({ method: 'GET', url: `/throw/${code}` });
    expect(res.statusCode).toBe(status);
    const error = errorOf(res.body);
    expect(error).toEqual({ code, message, requestId: res.headers['x-request-id'] });
    expect(res.body).not.toContain(`message for ${code}`);
  });

  it('masks an unexpected error and logs it server-side with the request id', async () => {
    const { call, logs } = await build();
    const res = await call({ method: 'GET', url: '/boom', headers: { 'x-request-id': 'req-boom-42' } });
    expect(res.statusCode).toBe(500);
    expect(errorOf(res.body)).toEqual({ code: 'INTERNAL', message: 'Internal error', requestId: 'req-boom-42' });
    expect(res.body).not.toContain('hunter2');
    expect(JSON.stringify(res.headers)).not.toContain('hunter2');

    const failure = logs.records().find((r) => r.msg === 'request failed');
    expect(failure).toBeDefined();
    expect(failure?.requestId).toBe('req-boom-42');
    expect(JSON.stringify(failure?.err)).toContain('db password=hunter2');
    expect(failure?.level).toBe(50);
  });

  it('answers an unknown route with NOT_FOUND in the envelope', async () => {
    const { call } = await build();
    const res = await call({ method: 'GET', url: '/no/such/route' });
    expect(res.statusCode).toBe(404);
    expect(errorOf(res.body)).toMatchObject({ code: 'NOT_FOUND', requestId: res.headers['x-request-id'] });
  });

  it('keeps 413 for a body over the limit, with code BAD_REQUEST and the limit in the message', async () => {
    const { call } = await build({ bodyLimit: 1024 });
    const res = await call({ method: 'POST', url: '/items', payload: { name: 'x'.repeat(2000) } });
    expect(res.statusCode).toBe(413);
    const error = errorOf(res.body);
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.message).toBe('Request body is too large (limit 1024 bytes)');
  });

  it('defaults the body limit to 1 MiB', async () => {
    const { call } = await build();
    const justUnder = await call({ method: 'POST', url: '/items', payload: { name: 'x'.repeat(1024 * 1024 - 20) } });
    expect(justUnder.statusCode).toBe(200);
    const over = await call({ method: 'POST', url: '/items', payload: { name: 'x'.repeat(1024 * 1024) } });
    expect(over.statusCode).toBe(413);
  });

  it('rejects malformed JSON without echoing it', async () => {
    const { call } = await build();
    const res = await call({
      method: 'POST',
      url: '/items',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": "sk_live_canary',
    });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res.body).code).toBe('BAD_REQUEST');
    expect(res.body).not.toContain('sk_live_canary');
  });

  it('answers a badly encoded URL in the envelope without reflecting it', async () => {
    const { call } = await build();
    const res = await call({ method: 'GET', url: '/%zzcanary' });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res.body)).toMatchObject({ code: 'BAD_REQUEST', message: 'Invalid URL encoding' });
    expect(res.body).not.toContain('canary');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('validation errors', () => {
  it('names the missing field', async () => {
    const { call } = await build();
    const res = await call({ method: 'POST', url: '/items', payload: { quantity: 3 } });
    expect(res.statusCode).toBe(400);
    const error = errorOf(res.body);
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.message).toBe('Invalid request: body.name is required');
    expect(error.details).toEqual([{ field: 'body.name', instancePath: '/name', message: 'is required' }]);
  });

  it('reports every problem, with nested paths, and never echoes submitted values', async () => {
    const { call } = await build();
    const res = await call({
      method: 'POST',
      url: '/items',
      payload: { name: 'ok', quantity: 'secret-quantity', tags: ['fine', 'secret-tag-value'], password: 'hunter2' },
    });
    expect(res.statusCode).toBe(400);
    const error = errorOf(res.body);
    expect(error.details).toEqual(
      expect.arrayContaining([
        { field: 'body.password', instancePath: '/password', message: 'is not allowed' },
        { field: 'body.quantity', instancePath: '/quantity', message: 'must be integer' },
        { field: 'body.tags[1]', instancePath: '/tags/1', message: 'must NOT have more than 5 characters' },
      ]),
    );
    expect(error.message).toMatch(/^Invalid request: body\.\S+ .+ \(and 2 more\)$/);
    for (const secret of ['secret-quantity', 'secret-tag-value', 'hunter2']) expect(res.body).not.toContain(secret);
  });

  it('does not coerce JSON body types (a string is not an integer)', async () => {
    const { call } = await build();
    const res = await call({ method: 'POST', url: '/items', payload: { name: 'a', quantity: '12' } });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res.body).message).toBe('Invalid request: body.quantity must be integer');
  });

  it('coerces querystring values, which are strings on the wire', async () => {
    const { call } = await build();
    const ok = await call({ method: 'GET', url: '/search?limit=10' });
    expect(ok.statusCode).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ query: { limit: 10 } });
    const bad = await call({ method: 'GET', url: '/search?limit=1000' });
    expect(bad.statusCode).toBe(400);
    expect(errorOf(bad.body).message).toBe('Invalid request: querystring.limit must be <= 100');
  });
});

describe('request id', () => {
  it('echoes a safe incoming x-request-id', async () => {
    const { call, logs } = await build();
    const res = await call({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'gw-01HZX.abc:1' } });
    expect(res.headers['x-request-id']).toBe('gw-01HZX.abc:1');
    expect(logs.records().some((r) => r.requestId === 'gw-01HZX.abc:1')).toBe(true);
  });

  // (A newline never reaches a handler: Node's HTTP parser rejects it; these are what gets through.)
  it.each([
    ['spaces and quotes', 'abc "def"'],
    ['markup', '<script>alert(1)</script>'],
    ['more than 64 characters', 'a'.repeat(65)],
    ['an empty value', ''],
  ])('replaces an id containing %s with a generated one', async (_label, incoming) => {
    const { call } = await build();
    const res = await call({ method: 'GET', url: '/throw/CONFLICT', headers: { 'x-request-id': incoming } });
    const id = res.headers['x-request-id'];
    expect(id).toMatch(/^req_[A-Za-z0-9_-]{16}$/);
    expect(errorOf(res.body).requestId).toBe(id);
  });

  it('generates distinct ids when none is sent', async () => {
    const { call } = await build();
    const a = await call({ method: 'GET', url: '/healthz' });
    const b = await call({ method: 'GET', url: '/healthz' });
    expect(a.headers['x-request-id']).toMatch(/^req_/);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });
});

describe('security headers', () => {
  const expectedHeaders = {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'cache-control': 'no-store',
  };

  it.each([
    ['a JSON success', 'GET', '/healthz'],
    ['a handled error', 'GET', '/throw/FORBIDDEN'],
    ['a 5xx', 'GET', '/boom'],
    ['an unknown route', 'GET', '/missing'],
    ['a validation failure', 'POST', '/items'],
  ] as const)('are set on %s', async (_label, method, url) => {
    const { call } = await build();
    const res = await call({ method, url, ...(method === 'POST' ? { payload: {} } : {}) });
    expect(res.statusCode).toBeGreaterThanOrEqual(200);
    expect(res.headers).toMatchObject(expectedHeaders);
    // HSTS only makes sense over TLS; this app is plain HTTP (see tls.test.ts for the TLS case)
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });

  it('leaves a Cache-Control chosen by the handler alone', async () => {
    const { call } = await build({}, (app) => {
      app.get('/cacheable', async (_request, reply) =>
        reply.header('cache-control', 'public, max-age=60').send({ a: 1 }),
      );
    });
    const res = await call({ method: 'GET', url: '/cacheable' });
    expect(res.headers['cache-control']).toBe('public, max-age=60');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });
});

describe('health and readiness', () => {
  it('GET /healthz answers ok', async () => {
    const { call } = await build();
    const res = await call({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 when every check passes', async () => {
    const { call } = await build({ readiness: { postgres: async () => {}, kafka: async () => {} } });
    const res = await call({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'ready', checks: { postgres: 'ok', kafka: 'ok' } });
  });

  it('GET /readyz answers 503 naming the failed check, with details only in the log', async () => {
    const { call, logs } = await build({
      readiness: {
        postgres: async () => {
          throw new Error('connect ECONNREFUSED db.internal:5432 user=flow8_auth');
        },
        kafka: async () => {},
      },
    });
    const res = await call({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body)).toEqual({ status: 'unready', checks: { postgres: 'fail', kafka: 'ok' } });
    expect(res.body).not.toContain('ECONNREFUSED');
    expect(logs.text()).toContain('db.internal:5432');
    expect(logs.records().find((r) => r.msg === 'readiness check failed')?.check).toBe('postgres');
  });

  it('GET /readyz answers 503 once the app is draining, without running checks', async () => {
    let ran = 0;
    const { app, call } = await build({ readiness: { postgres: async () => void ran++ } });
    markDraining(app);
    const res = await call({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'unready', draining: true });
    expect(ran).toBe(0);
  });

  it('probes are outside service auth even when a guard protects other routes', async () => {
    const { call } = await build();
    const guarded = await call({ method: 'GET', url: '/internal' });
    expect(guarded.statusCode).toBe(401);
    const probe = await call({ method: 'GET', url: '/healthz' });
    expect(probe.statusCode).toBe(200);
  });
});

describe('service identity', () => {
  it('refuses a request without a verified client certificate with UNAUTHENTICATED', async () => {
    const { call } = await build();
    const res = await call({ method: 'GET', url: '/internal' });
    expect(res.statusCode).toBe(401);
    expect(errorOf(res.body).code).toBe('UNAUTHENTICATED');
  });

  it('refuses an empty allow-list at wiring time', () => {
    expect(() => requireServiceIdentity([])).toThrow(/at least one/);
  });
});

describe('request logs', () => {
  it('logs the path without the query string', async () => {
    const { call, logs } = await build();
    await call({ method: 'GET', url: '/search?limit=5&code=oauth-code-canary' });
    const done = logs.records().find((r) => r.msg === 'request completed');
    expect(done).toMatchObject({ path: '/search', route: '/search', statusCode: 200, service: 'test-svc' });
    expect(logs.text()).not.toContain('oauth-code-canary');
  });
});

describe('TLS options', () => {
  it('refuses client-certificate auth without a CA to verify against', () => {
    expect(() =>
      buildServiceApp({
        service: 'x',
        logger: captureLogs().logger,
        tls: { key: 'k', cert: 'c', requestClientCert: true },
      }),
    ).toThrow(/tls.ca/);
  });
});
