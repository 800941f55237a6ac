import { call, type CallOptions } from './__fixtures__/client';
import { captureLogs } from './__fixtures__/logs';
import { createTestPki, type KeyPair, type TestPki } from './__fixtures__/pki';
import { buildServiceApp } from './app';
import type { ErrorBody } from './errors';
import { requireServiceIdentity, serviceIdentity } from './identity';
import { type RunningService, serve } from './serve';

// Real HTTPS servers with certificates from a throwaway CA (openssl CLI). Handshake-level
// refusals can only be observed on real sockets.

let pki: TestPki;
let gateway: KeyPair;
let intruder: KeyPair;
let rogueGateway: KeyPair;
let mtls: RunningService;
let serverTlsOnly: RunningService;
let handlerCalls = 0;

function buildInternalApp(tls: Parameters<typeof buildServiceApp>[0]['tls']) {
  const app = buildServiceApp({ service: 'vault', logger: captureLogs().logger, tls });
  app.get('/internal/ping', { preHandler: requireServiceIdentity(['gateway', 'flow-engine']) }, async (request) => {
    handlerCalls++;
    return { caller: serviceIdentity(request) };
  });
  return app;
}

beforeAll(async () => {
  pki = createTestPki();
  gateway = pki.client('gateway');
  intruder = pki.client('intruder');
  rogueGateway = pki.rogueClient('gateway');
  const serverTls = { key: pki.server.key, cert: pki.server.cert, ca: pki.ca };
  mtls = await serve(buildInternalApp({ ...serverTls, requestClientCert: true }), {
    host: '127.0.0.1',
    port: 0,
    handleSignals: false,
  });
  serverTlsOnly = await serve(buildInternalApp(serverTls), { host: '127.0.0.1', port: 0, handleSignals: false });
}, 60_000);

afterAll(async () => {
  await Promise.all([mtls?.close(), serverTlsOnly?.close()]);
  pki?.cleanup();
});

beforeEach(() => {
  handlerCalls = 0;
});

function get(base: string, tls: CallOptions['tls'], url = '/internal/ping') {
  return call(base, { url, tls: { ca: pki.ca, servername: 'localhost', ...tls } });
}

function errorCodeOf(err: unknown): string {
  return String((err as { code?: unknown }).code ?? (err as Error).message);
}

describe('mutual TLS between services', () => {
  it('lets an allowed service in and tells the handler who it is', async () => {
    expect(mtls.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await get(mtls.url, gateway);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ caller: 'gateway' });
    expect(handlerCalls).toBe(1);
  });

  it('answers 403 FORBIDDEN to a CA-signed service that is not on the route’s list', async () => {
    const res = await get(mtls.url, intruder);
    expect(res.statusCode).toBe(403);
    expect((JSON.parse(res.body) as ErrorBody).error.code).toBe('FORBIDDEN');
    expect(handlerCalls).toBe(0);
  });

  it('refuses a client without a certificate at the TLS handshake', async () => {
    const err = await get(mtls.url, {}).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).not.toBeNull();
    // TLS 1.3: the server's "certificate required" alert; never an HTTP answer
    expect(errorCodeOf(err)).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    expect(handlerCalls).toBe(0);
  });

  it('refuses a certificate from another CA, even with an allowed CN', async () => {
    // Pinned to TLS 1.2 so the server's verdict lands inside the handshake (the server's
    // Finished comes last): the client must see the handshake cut, not an HTTP answer.
    const err = await get(mtls.url, { ...rogueGateway, maxVersion: 'TLSv1.2' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).not.toBeNull();
    expect((err as Error).message).toMatch(/disconnected before secure TLS connection was established/);
    expect(handlerCalls).toBe(0);
  });

  it('probes stay reachable for any client holding a CA-signed certificate', async () => {
    const res = await get(mtls.url, intruder, '/readyz');
    expect(res.statusCode).toBe(200);
  });
});

describe('server-side TLS', () => {
  it('sends HSTS over TLS', async () => {
    const res = await get(serverTlsOnly.url, {}, '/healthz');
    expect(res.statusCode).toBe(200);
    expect(res.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
  });

  it('answers 401 UNAUTHENTICATED on a service route when the connection carries no verified certificate', async () => {
    const res = await get(serverTlsOnly.url, {});
    expect(res.statusCode).toBe(401);
    expect((JSON.parse(res.body) as ErrorBody).error.code).toBe('UNAUTHENTICATED');
    expect(handlerCalls).toBe(0);
  });

  it('accepts TLS 1.2', async () => {
    const res = await get(serverTlsOnly.url, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }, '/healthz');
    expect(res.statusCode).toBe(200);
  });

  it('refuses TLS 1.1 (the server answers with a protocol-version alert)', async () => {
    // SECLEVEL=0 lets *this client* offer TLS 1.1, so the refusal we see is the server's.
    const err = await get(
      serverTlsOnly.url,
      { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
      '/healthz',
    ).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).not.toBeNull();
    // alert 70 (protocol_version) is sent by the server; a client-side refusal would read
    // "no protocols available" instead
    expect((err as Error).message).toMatch(/alert protocol version/);
  });
});
