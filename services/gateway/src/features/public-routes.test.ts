// The gateway's own guarantee, independent of the vault: whatever the vault (or a bug in it) puts
// in a credential response, only the metadata fields of the public schema reach the client — a
// secret, a ciphertext or a key never does (nor a token or verifier of an OAuth2 connection). And
// the secret sent on create does reach the vault.
import { ROUTES, routeKey } from '@flow8/api';
import { buildServiceApp } from '@flow8/http';
import { createLogger } from '@flow8/telemetry';
import type { Target, UpstreamRequest, Upstreams } from '../upstream/client';
import { auditHandlers } from './audit/audit.routes';
import { identityHandlers } from './identity/identity.routes';
import { gatewaySchema, registerPublicRoutes } from './public-routes';

const CANARY = 'canary-secret-7f3a9c';
const view = {
  id: 'crd_0123456789abcdefghjkmnpqrs',
  integration: 'slack',
  name: 'Slack bot',
  kind: 'token',
  scopes: ['chat:write'],
  status: 'active',
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  createdBy: 'usr_0123456789abcdefghjkmnpqrs',
  updatedAt: '2026-01-01T00:00:00.000Z',
  revokedAt: null,
};
/** What a leaking vault would answer: the view plus every secret-bearing field it could add. */
const leaky = { ...view, secret: CANARY, ciphertext: CANARY, plaintext: CANARY, wrapped: CANARY };

function stubUpstreams(answer: (req: UpstreamRequest) => { status: number; body: unknown }) {
  const sent: Array<{ target: Target; req: UpstreamRequest }> = [];
  const upstreams = {
    json: async (target: Target, req: UpstreamRequest) => {
      sent.push({ target, req });
      return answer(req);
    },
  } as unknown as Upstreams;
  return { upstreams, sent };
}

async function appWith(upstreams: Upstreams) {
  // The service kit the gateway is built with: its validator (bodies strict, no extra fields
  // removed) and its error model, so a refusal here is the refusal a client gets.
  const app = buildServiceApp({
    service: 'gateway',
    logger: createLogger({ service: 'gateway', level: 'silent', destination: { write: () => undefined } }),
  });
  app.decorateRequest('clientIp', '');
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (request) => {
    request.clientIp = '192.0.2.1';
    request.auth = {
      principal: {
        tenantId: 'ten_0123456789abcdefghjkmnpqrs',
        type: 'user',
        id: 'usr_0123456789abcdefghjkmnpqrs',
        role: 'admin',
        scopes: [],
        ip: null,
        sessionId: null,
      },
      via: 'session',
      csrfValid: true,
      jti: null,
      ownerId: null,
      cidrs: [],
    } as unknown as NonNullable<typeof request.auth>;
  });
  registerPublicRoutes(app, { upstreams, handlers: {}, routes: ROUTES.filter((r) => r.section === 'credentials') });
  // A loopback listener (light-my-request's inject does not load under jest's ESM runtime).
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const request = async (method: string, url: string, payload?: unknown) => {
    const res = await fetch(`${base}${url}`, {
      method,
      ...(payload !== undefined
        ? { body: JSON.stringify(payload), headers: { 'content-type': 'application/json' } }
        : {}),
    });
    const body = await res.text();
    return { statusCode: res.status, body, json: () => JSON.parse(body) as unknown };
  };
  return { request, close: () => app.close() };
}

describe('credential routes at the gateway', () => {
  it('forward the secret of a create to the vault, and answer without any secret field', async () => {
    const { upstreams, sent } = stubUpstreams(() => ({ status: 201, body: leaky }));
    const app = await appWith(upstreams);
    const r = await app.request('POST', '/v1/credentials', {
      integration: 'slack',
      name: 'Slack bot',
      kind: 'token',
      scopes: ['chat:write'],
      secret: CANARY,
    });
    expect(r.statusCode).toBe(201);
    expect(r.body).not.toContain(CANARY);
    expect(r.json()).toEqual(view);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.target).toBe('credential-vault');
    expect(sent[0]!.req).toMatchObject({ method: 'POST', path: '/v1/credentials', body: { secret: CANARY } });
    await app.close();
  });

  it.each([
    ['GET', '/v1/credentials', { items: [leaky], nextCursor: null }],
    ['GET', `/v1/credentials/${view.id}`, leaky],
    ['POST', `/v1/credentials/${view.id}/rotate`, leaky],
  ] as const)('%s %s drops secret fields the vault might add', async (method, url, body) => {
    const { upstreams } = stubUpstreams(() => ({ status: 200, body }));
    const app = await appWith(upstreams);
    const r = await app.request(method, url, method === 'POST' ? { secret: CANARY } : undefined);
    expect(r.statusCode).toBe(200);
    expect(r.body).not.toContain(CANARY);
    expect(r.body).toContain(view.id);
    await app.close();
  });

  it('forwards an OAuth2 start and answers only the URL, state and expiry', async () => {
    const started = {
      authorizationUrl: 'https://login.example.test/authorize?state=st',
      state: 'st',
      expiresAt: '2026-01-01T00:10:00.000Z',
    };
    const { upstreams, sent } = stubUpstreams(() => ({
      status: 200,
      body: { ...started, codeVerifier: CANARY, clientSecret: CANARY },
    }));
    const app = await appWith(upstreams);
    const r = await app.request('POST', '/v1/credentials/oauth/salesforce/start', {
      name: 'Salesforce',
      scopes: ['records:read'],
    });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual(started);
    expect(sent[0]!.req).toMatchObject({
      method: 'POST',
      path: '/v1/credentials/oauth/salesforce/start',
      body: { name: 'Salesforce', scopes: ['records:read'] },
    });
    await app.close();
  });

  it.each([
    ['an integration the vault does not know', '/v1/credentials/oauth/github/start', { name: 'x', scopes: ['a'] }],
    ['a blank name', '/v1/credentials/oauth/slack/start', { name: '   ', scopes: ['chat:write'] }],
    ['no scopes', '/v1/credentials/oauth/slack/start', { name: 'x', scopes: [] }],
    ['an extra field', '/v1/credentials/oauth/slack/start', { name: 'x', scopes: ['chat:write'], redirectUri: 'x' }],
  ])('refuses a start with %s before the vault sees it', async (_what, url, body) => {
    const { upstreams, sent } = stubUpstreams(() => ({ status: 200, body: {} }));
    const app = await appWith(upstreams);
    const r = await app.request('POST', url, body);
    expect(r.statusCode).toBe(400);
    expect(sent).toHaveLength(0);
    await app.close();
  });

  it('forwards the callback query as given and answers the credential metadata only', async () => {
    const { upstreams, sent } = stubUpstreams(() => ({ status: 201, body: { ...leaky, kind: 'oauth2' } }));
    const app = await appWith(upstreams);
    const r = await app.request('GET', '/v1/credentials/oauth/callback?state=st&code=cd&iss=https%3A%2F%2Fidp.test');
    expect(r.statusCode).toBe(201);
    expect(r.body).not.toContain(CANARY);
    expect(r.json()).toEqual({ ...view, kind: 'oauth2' });
    expect(sent[0]!.req).toMatchObject({
      method: 'GET',
      path: '/v1/credentials/oauth/callback',
      query: { state: 'st', code: 'cd', iss: 'https://idp.test' },
    });
    await app.close();
  });

  it('refuses a callback with a parameter the vault does not take, before the vault sees it', async () => {
    const { upstreams, sent } = stubUpstreams(() => ({ status: 201, body: view }));
    const app = await appWith(upstreams);
    const r = await app.request('GET', '/v1/credentials/oauth/callback?state=st&code=cd&redirect_uri=https://evil');
    expect(r.statusCode).toBe(400);
    expect(sent).toHaveLength(0);
    await app.close();
  });

  it.each([
    ['revoked', { id: view.id, status: 'revoked', providerRevocation: 'revoked' }],
    ['failed', { id: view.id, status: 'revoked', providerRevocation: 'failed' }],
  ] as const)(
    'answers the 200 of an oauth2 revoke (provider %s) with its three fields only',
    async (_outcome, answer) => {
      const { upstreams } = stubUpstreams(() => ({ status: 200, body: { ...answer, refreshToken: CANARY } }));
      const app = await appWith(upstreams);
      const r = await app.request('DELETE', `/v1/credentials/${view.id}`);
      expect(r.statusCode).toBe(200);
      expect(r.body).not.toContain(CANARY);
      expect(r.json()).toEqual(answer);
      await app.close();
    },
  );

  it('answers the 204 of an ordinary revoke with no body', async () => {
    const { upstreams } = stubUpstreams(() => ({ status: 204, body: undefined }));
    const app = await appWith(upstreams);
    const r = await app.request('DELETE', `/v1/credentials/${view.id}`);
    expect(r.statusCode).toBe(204);
    expect(r.body).toBe('');
    await app.close();
  });

  it('no response schema of any public route names a secret', () => {
    for (const route of ROUTES) {
      const name = routeKey(route);
      const response = JSON.stringify(gatewaySchema(route).response);
      expect({ name, secret: response.includes('"secret"') }).toEqual({ name, secret: false });
    }
  });
});

describe('registration from the route table', () => {
  const upstreams = {} as Upstreams;
  const handlers = { ...identityHandlers({ upstreams }), ...auditHandlers({ upstreams }) };
  const app = () =>
    buildServiceApp({
      service: 'gateway',
      logger: createLogger({ service: 'gateway', level: 'silent', destination: { write: () => undefined } }),
    });

  it('refuses a handler for a route the table does not have', () => {
    expect(() =>
      registerPublicRoutes(app(), { upstreams, handlers: { ...handlers, 'GET /v1/nowhere': async () => ({}) } }),
    ).toThrow('GET /v1/nowhere');
  });

  it('refuses a route the gateway answers itself but has no handler for', () => {
    const { 'GET /v1/me': _me, ...withoutMe } = handlers;
    expect(() => registerPublicRoutes(app(), { upstreams, handlers: withoutMe })).toThrow('GET /v1/me');
  });

  it('registers every route of the table, with the security its credentials call for', async () => {
    const a = app();
    const seen: string[] = [];
    a.addHook('onRoute', (r) => {
      const methods = Array.isArray(r.method) ? r.method : [r.method];
      if (methods.includes('HEAD')) return;
      seen.push(`${methods.join(',')} ${r.url}`);
      const route = ROUTES.find((x) => routeKey(x) === `${methods.join(',')} ${r.url}`)!;
      const security = (r.schema as { security: unknown[] }).security;
      if (route.permission === 'public') expect(security).toEqual([]);
      else expect(security.length).toBeGreaterThan(0);
    });
    registerPublicRoutes(a, { upstreams, handlers });
    await a.ready();
    expect(seen.sort()).toEqual(ROUTES.map(routeKey).sort());
    await a.close();
  });
});
