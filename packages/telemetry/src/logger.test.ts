import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { createLogger, type LoggerOptions, startTelemetry, type TelemetryHandle, withSpan } from './index';

const CANARY = 'canary-7Hq2Lx9Vb4Zt';

type Line = Record<string, unknown>;

function capture(opts: Omit<LoggerOptions, 'destination'> = { service: 'svc' }) {
  const raw: string[] = [];
  const logger = createLogger({ ...opts, destination: { write: (s: string) => void raw.push(s) } });
  return {
    logger,
    raw,
    lines: () => raw.map((s) => JSON.parse(s) as Line),
  };
}

describe('createLogger redaction by key', () => {
  it('censors secret keys at the top level and nested, and keeps other fields', () => {
    const { logger, lines } = capture();
    logger.info(
      {
        password: 'p0',
        user: { id: 'usr_1', password: 'p1', profile: { apiKey: 'k2', settings: { clientSecret: 'c3' } } },
        integration: { oauth: { tokens: { accessToken: 'a4', refreshToken: 'r4' } } },
        ciphertext: 'ct',
      },
      'login',
    );
    const [line] = lines();
    expect(line).toMatchObject({
      msg: 'login',
      password: '[REDACTED]',
      user: {
        id: 'usr_1',
        password: '[REDACTED]',
        profile: { apiKey: '[REDACTED]', settings: { clientSecret: '[REDACTED]' } },
      },
      integration: { oauth: { tokens: { accessToken: '[REDACTED]', refreshToken: '[REDACTED]' } } },
      ciphertext: '[REDACTED]',
    });
  });

  it('censors header values (authorization, cookie, set-cookie, x-api-key)', () => {
    const { logger, raw, lines } = capture();
    logger.info({
      req: {
        method: 'GET',
        headers: { authorization: 'Bearer abc.def', cookie: 'sid=s1', 'x-api-key': 'k', accept: '*/*' },
      },
      res: { headers: { 'set-cookie': ['sid=s2; HttpOnly'] } },
    });
    expect(lines()[0]).toMatchObject({
      req: {
        method: 'GET',
        headers: { authorization: '[REDACTED]', cookie: '[REDACTED]', 'x-api-key': '[REDACTED]', accept: '*/*' },
      },
      res: { headers: { 'set-cookie': '[REDACTED]' } },
    });
    for (const leaked of ['abc.def', 'sid=s1', 'sid=s2']) expect(raw.join('')).not.toContain(leaked);
  });

  it('censors at any depth, inside arrays, and whatever the key spelling', () => {
    const { logger, raw, lines } = capture();
    const deep = { a: { b: { c: { d: { e: { f: { g: { password: 'deep-pw', ok: 1 } } } } } } } };
    logger.info({
      deep,
      list: [{ api_key: 'k1' }, { 'X-Api-Key': 'k2' }],
      headers: { Authorization: 'Basic x', 'Set-Cookie': 'sid=1' },
    });
    const line = lines()[0];
    expect(line).toMatchObject({
      deep: { a: { b: { c: { d: { e: { f: { g: { password: '[REDACTED]', ok: 1 } } } } } } } },
      list: [{ api_key: '[REDACTED]' }, { 'X-Api-Key': '[REDACTED]' }],
      headers: { Authorization: '[REDACTED]', 'Set-Cookie': '[REDACTED]' },
    });
    for (const leaked of ['deep-pw', 'k1', 'k2', 'Basic x', 'sid=1']) expect(raw[0]).not.toContain(leaked);
  });

  it('censors secret fields hung on errors, keeping type, message and stack', () => {
    class HttpError extends Error {
      config = { url: 'https://api.example', headers: { authorization: 'Bearer leaked' } };
    }
    const { logger, raw, lines } = capture();
    logger.error(new HttpError('upstream 401'), 'call failed');
    logger.warn({ attempt: { error: new HttpError('nested') } }, 'retrying');
    const [top, nested] = lines();
    expect(top).toMatchObject({
      msg: 'call failed',
      err: {
        type: 'HttpError',
        message: 'upstream 401',
        config: { url: 'https://api.example', headers: { authorization: '[REDACTED]' } },
      },
    });
    expect((top?.err as { stack: string }).stack).toContain('upstream 401');
    expect(nested).toMatchObject({
      attempt: {
        error: { type: 'HttpError', message: 'nested', config: { headers: { authorization: '[REDACTED]' } } },
      },
    });
    expect(raw.join('')).not.toContain('Bearer leaked');
  });

  it('censors secret keys in child logger bindings', () => {
    const { logger, raw, lines } = capture();
    logger
      .child({ tenant: 'ten_1', credential: { clientSecret: 'cs-1' } })
      .child({ token: 't-2' })
      .info('hi');
    expect(lines()[0]).toMatchObject({
      tenant: 'ten_1',
      credential: { clientSecret: '[REDACTED]' },
      token: '[REDACTED]',
    });
    expect(raw[0]).not.toMatch(/cs-1|t-2/);
  });

  it('censors the output of serializers added by a child (as Fastify does)', () => {
    const { logger, raw, lines } = capture();
    // a class instance, like IncomingMessage: only the serializer looks inside it
    class FakeRequest {
      readonly headers = { cookie: 'sid=abc', 'user-agent': 'ua' };
    }
    const reqSerializer = (req: FakeRequest) => ({ method: 'GET', headers: { ...req.headers } });
    logger
      .child({}, { serializers: { req: reqSerializer as (v: unknown) => unknown } })
      .info({ req: new FakeRequest() });
    expect(lines()[0]).toMatchObject({ req: { method: 'GET', headers: { cookie: '[REDACTED]', 'user-agent': 'ua' } } });
    expect(raw[0]).not.toContain('sid=abc');
  });

  it('does not modify the object that was logged', () => {
    const { logger } = capture();
    const body = { password: 'still-here' };
    logger.info({ body });
    expect(body.password).toBe('still-here');
  });

  it('carries service and honours the level', () => {
    const { logger, lines } = capture({ service: 'auth', level: 'warn' });
    logger.info('hidden');
    logger.warn('shown');
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ service: 'auth', level: 'warn', msg: 'shown' });
  });
});

describe('createLogger value scrubbing', () => {
  it('removes a canary from free text, from unredacted keys and from an error message and stack', () => {
    const { logger, raw } = capture({ service: 'vault', secrets: () => [CANARY] });
    logger.info(`connecting with ${CANARY}`);
    logger.info({ connector: { note: `x${CANARY}y` } }, 'nested');
    logger.error(new Error(`decrypt failed for key ${CANARY}`), 'oops');
    logger.error({ err: new Error(`wrapped ${CANARY}`) });
    const all = raw.join('');
    expect(raw).toHaveLength(4);
    expect(all).not.toContain(CANARY);
    const lines = raw.map((s) => JSON.parse(s) as Line);
    expect(lines[0]?.msg).toBe('connecting with [REDACTED]');
    expect(lines[1]).toMatchObject({ connector: { note: 'x[REDACTED]y' } });
    const err = lines[2]?.err as { message: string; stack: string };
    expect(err.message).toBe('decrypt failed for key [REDACTED]');
    expect(err.stack).toContain('decrypt failed for key [REDACTED]');
    expect((lines[3]?.err as { message: string }).message).toBe('wrapped [REDACTED]');
  });

  it('matches secrets that JSON escapes and keeps the line valid JSON', () => {
    const tricky = 'pa"ss\\wo\nrd';
    const { logger, raw } = capture({ service: 'svc', secrets: () => [tricky] });
    logger.info({ note: `before ${tricky} after` });
    expect(raw.join('')).not.toContain(JSON.stringify(tricky).slice(1, -1));
    expect((JSON.parse(raw[0] ?? '') as Line).note).toBe('before [REDACTED] after');
  });

  it('asks for the secrets on every line, so a rotated secret is scrubbed too', () => {
    let current = ['first-secret'];
    const { logger, raw } = capture({ service: 'svc', secrets: () => current });
    current = ['second-secret'];
    logger.info('second-secret leaked');
    expect(raw[0]).not.toContain('second-secret');
  });

  it('ignores empty and tiny strings instead of shredding every line', () => {
    const { logger, lines } = capture({ service: 'svc', secrets: () => ['', 'a'] });
    logger.info('a normal line');
    expect(lines()[0]?.msg).toBe('a normal line');
  });
});

describe('createLogger trace correlation', () => {
  let telemetry: TelemetryHandle;
  beforeAll(() => {
    telemetry = startTelemetry({ serviceName: 'logger-test', exporter: new InMemorySpanExporter() });
  });
  afterAll(() => telemetry.shutdown());

  it('adds trace_id/span_id inside withSpan and none outside', async () => {
    const { logger, lines } = capture();
    const ids = await withSpan('work', {}, async (span) => {
      // after an await, to prove the context survives async hops (AsyncLocalStorage)
      await new Promise((r) => setTimeout(r, 1));
      logger.info('inside');
      return span.spanContext();
    });
    logger.info('outside');
    const [inside, outside] = lines();
    expect(inside).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId });
    expect(ids.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(outside).not.toHaveProperty('trace_id');
  });
});
