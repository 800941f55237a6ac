import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { listenForTest, type TestResponse } from './__fixtures__/client';
import { captureLogs } from './__fixtures__/logs';
import { buildServiceApp } from './app';
import type { ErrorBody } from './errors';
import { checkUrlText, findBadText, jsonDepthExceeds } from './text-guard';

const running: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((app) => app.close()));
});

/** What the handler received, so a test can tell "refused" from "accepted rewritten". */
async function build() {
  const logs = captureLogs();
  const app = buildServiceApp({ service: 'test-svc', logger: logs.logger });
  const seen: unknown[] = [];
  app.post('/items', async (request) => {
    seen.push(request.body);
    return { ok: true };
  });
  app.get<{ Params: { id: string } }>('/items/:id', async (request) => {
    seen.push(request.params.id, request.query);
    return { ok: true };
  });
  running.push(app);
  const { call, url } = await listenForTest(app);
  return { app, call, url, seen, logs };
}

const errorOf = (r: TestResponse) => (JSON.parse(r.body) as ErrorBody).error;

/** Bytes on a raw TCP connection; resolves with everything the server sent before closing. */
function raw(url: string, bytes: Buffer | string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(u.port), u.hostname, () => socket.write(bytes));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
  });
}

function parseRaw(text: string): { status: number; headers: Record<string, string>; body: string } {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

describe('JSON bodies', () => {
  it('refuses a NUL in a string value or a key with 400 naming the field, before the handler', async () => {
    const { call, seen } = await build();
    const value = await call({ method: 'POST', url: '/items', payload: { a: { name: 'x\u0000y' } } });
    expect(value.statusCode).toBe(400);
    expect(errorOf(value)).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('body.a.name') });
    expect(errorOf(value).requestId).toEqual(expect.any(String));
    const key = await call({
      method: 'POST',
      url: '/items',
      payload: '{"ok":1,"k\\u0000":2}',
      headers: { 'content-type': 'application/json' },
    });
    expect(key.statusCode).toBe(400);
    expect(seen).toEqual([]);
  });

  it('refuses an unpaired surrogate (not Unicode; it would be stored as U+FFFD)', async () => {
    const { call, seen } = await build();
    const r = await call({
      method: 'POST',
      url: '/items',
      payload: '{"tags":["ok","\\ud800"]}',
      headers: { 'content-type': 'application/json' },
    });
    expect(r.statusCode).toBe(400);
    expect(errorOf(r).message).toContain('body.tags[1]');
    expect(seen).toEqual([]);
  });

  it('accepts escaped text that only looks like NUL, and real non-ASCII text and pairs', async () => {
    const { call, seen } = await build();
    const r = await call({
      method: 'POST',
      url: '/items',
      payload: '{"a":"\\\\u0000","b":"Zoë 東京 \\ud83d\\ude00"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(r.statusCode).toBe(200);
    expect(seen).toEqual([{ a: '\\u0000', b: 'Zoë 東京 😀' }]);
  });

  it('refuses bytes that are not UTF-8 instead of storing them rewritten as U+FFFD', async () => {
    const { url, seen } = await build();
    const body = Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const answer = parseRaw(
      await raw(
        url,
        Buffer.concat([
          Buffer.from(
            `POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
          ),
          body,
        ]),
      ),
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: { code: 'BAD_REQUEST', message: expect.stringContaining('UTF-8') },
    });
    expect(seen).toEqual([]);
  });

  it('refuses JSON nested 10,000 deep with 400 and keeps serving', async () => {
    const { call, seen } = await build();
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const r = await call({
      method: 'POST',
      url: '/items',
      payload: deep,
      headers: { 'content-type': 'application/json' },
    });
    expect(r.statusCode).toBe(400);
    expect(errorOf(r)).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('deeper than 64') });
    const ok = await call({ method: 'POST', url: '/items', payload: { a: [[[{ b: 1 }]]] } });
    expect(ok.statusCode).toBe(200);
    expect(seen).toEqual([{ a: [[[{ b: 1 }]]] }]);
  });

  it('still refuses prototype poisoning and malformed JSON as before', async () => {
    const { call } = await build();
    const proto = await call({
      method: 'POST',
      url: '/items',
      payload: '{"__proto__":{"admin":true}}',
      headers: { 'content-type': 'application/json' },
    });
    expect(proto.statusCode).toBe(400);
    const bad = await call({
      method: 'POST',
      url: '/items',
      payload: '{"a":',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.statusCode).toBe(400);
    expect(errorOf(bad).code).toBe('BAD_REQUEST');
  });
});

describe('URLs', () => {
  it.each([
    ['a NUL in a path parameter', '/items/ab%00cd'],
    ['a NUL in the query', '/items/abc?filter=a%00b'],
    ['an invalid UTF-8 byte in the query', '/items/abc?filter=caf%E9'],
    ['an overlong encoding of NUL in the query', '/items/abc?filter=%C0%80'],
  ])('refuses %s with 400 in the error model', async (_what, path) => {
    const { call, seen } = await build();
    const r = await call({ url: path });
    expect(r.statusCode).toBe(400);
    expect(errorOf(r).code).toBe('BAD_REQUEST');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(seen).toEqual([]);
  });

  it('accepts percent-encoded UTF-8', async () => {
    const { call, seen } = await build();
    const r = await call({ url: '/items/caf%C3%A9?q=%E6%9D%B1' });
    expect(r.statusCode).toBe(200);
    expect(seen).toEqual(['café', { q: '東' }]);
  });
});

describe('requests the HTTP parser refuses', () => {
  const expectModel = (answer: ReturnType<typeof parseRaw>, status: number) => {
    expect(answer.status).toBe(status);
    const body = JSON.parse(answer.body) as ErrorBody;
    expect(body.error).toMatchObject({ code: 'BAD_REQUEST', message: expect.any(String) });
    expect(body.error.requestId).toMatch(/^req_/);
    expect(answer.headers['x-request-id']).toBe(body.error.requestId);
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    expect(answer.headers['x-frame-options']).toBe('DENY');
    expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
    expect(answer.headers['cache-control']).toBe('no-store');
  };

  it('answers oversized headers with 431 in the error model', async () => {
    const { url } = await build();
    const answer = parseRaw(await raw(url, `GET /items/a HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
    expectModel(answer, 431);
  });

  it('answers a malformed request line with 400 in the error model', async () => {
    const { url } = await build();
    expectModel(parseRaw(await raw(url, 'GET /items/a HTTP/9.Z\r\nHost: x\r\n\r\n')), 400);
    expectModel(parseRaw(await raw(url, 'G\u0001T / HTTP/1.1\r\n\r\n')), 400);
  });

  it('answers a bad chunk of a chunked body with 400 in the error model', async () => {
    const { url, seen } = await build();
    const answer = parseRaw(
      await raw(
        url,
        'POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
          '2\r\n{}\r\nZZ\r\nnot a chunk\r\n0\r\n\r\n',
      ),
    );
    expectModel(answer, 400);
    expect(seen).toEqual([]);
  });
});

describe('pure checks', () => {
  it('measures depth without counting brackets inside strings', () => {
    expect(jsonDepthExceeds('{"a":"[[[[[[[[[["}', 2)).toBe(false);
    expect(jsonDepthExceeds('{"a":"\\"[[[["}', 1)).toBe(false);
    expect(jsonDepthExceeds('[[[]]]', 2)).toBe(true);
    expect(jsonDepthExceeds('[[],[],[]]', 2)).toBe(false);
  });

  it('finds bad text in keys and nested values', () => {
    expect(findBadText({ a: [{ b: 'ok' }, { c: '\u0000' }] })).toEqual({ pointer: '/a/1/c', problem: 'nul' });
    expect(findBadText({ 'x\ud800': 1 })).toEqual({ pointer: '/', problem: 'surrogate' });
    expect(findBadText({ a: 'fine 😀' })).toBeNull();
  });

  it('decodes the URL byte-wise', () => {
    expect(checkUrlText('/a?b=c')).toBeNull();
    expect(checkUrlText('/a/%e2%82%ac')).toBeNull();
    expect(checkUrlText('/a/%e2%82')?.code).toBe('BAD_REQUEST');
    expect(checkUrlText('/a?x=%00')?.code).toBe('BAD_REQUEST');
    expect(checkUrlText('/a?x=%zz')).toBeNull(); // not an escape: the router decides
  });
});
