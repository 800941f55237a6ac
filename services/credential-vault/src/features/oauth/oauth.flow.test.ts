import { localIntegrations } from './integrations';
import type { OAuthClient, ResolvedEndpoints, TokenResponse } from './oauth.client';
import { OAuthError } from './oauth.errors';
import { createMemoryOAuthStore, createOAuthFlow, type OAuthLogger, type OAuthTokenSet } from './oauth.flow';
import { codeChallengeS256, stateKey } from './pkce';

const ISSUER = 'https://idp.example.test';

/** A provider double at the OAuthClient boundary: records what the flow asks of it. */
function fakeClient(opts: { issParam?: boolean; refreshResponse?: Partial<TokenResponse> | OAuthError } = {}) {
  const calls = {
    exchange: [] as { code: string; codeVerifier: string; redirectUri: string }[],
    refresh: [] as string[],
    revoke: [] as { token: string; hint: string }[],
    authUrls: [] as { state: string; codeVerifier: string; scopes: readonly string[] }[],
  };
  let seq = 0;
  const endpoints: ResolvedEndpoints = {
    issuer: ISSUER,
    authorizationEndpoint: `${ISSUER}/auth`,
    tokenEndpoint: `${ISSUER}/token`,
    revocationEndpoint: `${ISSUER}/revoke`,
    authorizationResponseIssParameterSupported: opts.issParam ?? false,
  };
  const client: OAuthClient = {
    integration: localIntegrations(ISSUER).salesforce,
    endpoints: () => Promise.resolve(endpoints),
    buildAuthorizationUrl(input) {
      calls.authUrls.push(input);
      const u = new URL(endpoints.authorizationEndpoint);
      u.searchParams.set('state', input.state);
      u.searchParams.set('code_challenge', codeChallengeS256(input.codeVerifier));
      return Promise.resolve(u.toString());
    },
    exchangeCode(input) {
      calls.exchange.push(input);
      return Promise.resolve({
        accessToken: 'AT-1',
        tokenType: 'Bearer',
        expiresIn: 30,
        refreshToken: 'RT-1',
        scope: ['openid', 'offline_access'],
      });
    },
    async refresh(refreshToken) {
      calls.refresh.push(refreshToken);
      await new Promise((r) => setTimeout(r, 10));
      if (opts.refreshResponse instanceof OAuthError) throw opts.refreshResponse;
      seq += 1;
      return {
        accessToken: `AT-${seq + 1}`,
        tokenType: 'Bearer',
        expiresIn: 30,
        refreshToken: `RT-${seq + 1}`,
        scope: null,
        ...opts.refreshResponse,
      };
    },
    revoke(token, hint) {
      calls.revoke.push({ token, hint });
      return Promise.resolve();
    },
  };
  return { client, calls };
}

function setup(opts: Parameters<typeof fakeClient>[0] = {}) {
  let clock = new Date('2026-01-01T00:00:00Z');
  const store = createMemoryOAuthStore();
  const { client, calls } = fakeClient(opts);
  const lines: string[] = [];
  const logger: OAuthLogger = {
    info: (o, m) => lines.push(JSON.stringify({ ...o, msg: m })),
    warn: (o, m) => lines.push(JSON.stringify({ ...o, msg: m })),
  };
  const flow = createOAuthFlow({
    store,
    clients: { salesforce: client },
    redirectUri: 'https://app.example.test/oauth/callback',
    now: () => clock,
    logger,
    stateTtlSeconds: 600,
    refreshMarginSeconds: 60,
  });
  const advance = (seconds: number) => {
    clock = new Date(clock.getTime() + seconds * 1000);
  };
  return { flow, store, calls, lines, advance, now: () => clock };
}

const ada = { tenantId: 'ten_a', userId: 'usr_ada' };

describe('OAuth flow: start and callback', () => {
  it('starts with a fresh state and S256 challenge, and exchanges the code with the saved verifier', async () => {
    const { flow, store, calls } = setup();
    const { authorizationUrl, state } = await flow.start({ ...ada, integration: 'salesforce' });
    expect(new URL(authorizationUrl).searchParams.get('state')).toBe(state);
    expect(store.size()).toBe(1);

    const done = await flow.callback({ ...ada, state, code: 'the-code' });
    expect(calls.exchange).toEqual([
      {
        code: 'the-code',
        codeVerifier: calls.authUrls[0]?.codeVerifier,
        redirectUri: 'https://app.example.test/oauth/callback',
      },
    ]);
    expect(done.tokens).toMatchObject({
      integration: 'salesforce',
      accessToken: 'AT-1',
      refreshToken: 'RT-1',
      expiresAt: '2026-01-01T00:00:30.000Z',
    });
    expect(store.size()).toBe(0);
  });

  it('keys the pending authorization by the state hash, never the state itself', async () => {
    const { flow, store } = setup();
    const { state } = await flow.start({ ...ada, integration: 'salesforce' });
    const row = await store.takePending(stateKey(state));
    expect(row?.stateHash).toBe(stateKey(state));
    expect(JSON.stringify(row)).not.toContain(state);
  });

  it('refuses a replayed state: the second callback does not reach the provider', async () => {
    const { flow, calls } = setup();
    const { state } = await flow.start({ ...ada, integration: 'salesforce' });
    await flow.callback({ ...ada, state, code: 'c1' });
    await expect(flow.callback({ ...ada, state, code: 'c1' })).rejects.toMatchObject({ code: 'STATE_INVALID' });
    expect(calls.exchange).toHaveLength(1);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['unknown', 'x'.repeat(43)],
    ['oversized', 'x'.repeat(10_000)],
  ])('refuses a %s state', async (_label, state) => {
    const { flow, calls } = setup();
    await flow.start({ ...ada, integration: 'salesforce' });
    await expect(flow.callback({ ...ada, state, code: 'c' })).rejects.toMatchObject({ code: 'STATE_INVALID' });
    expect(calls.exchange).toHaveLength(0);
  });

  it('refuses an expired state, and it stays consumed', async () => {
    const { flow, advance, store, calls } = setup();
    const { state } = await flow.start({ ...ada, integration: 'salesforce' });
    advance(601);
    await expect(flow.callback({ ...ada, state, code: 'c' })).rejects.toMatchObject({ code: 'STATE_EXPIRED' });
    expect(store.size()).toBe(0);
    expect(calls.exchange).toHaveLength(0);
  });

  it('accepts a state just before expiry', async () => {
    const { flow, advance } = setup();
    const { state } = await flow.start({ ...ada, integration: 'salesforce' });
    advance(599);
    await expect(flow.callback({ ...ada, state, code: 'c' })).resolves.toMatchObject({ integration: 'salesforce' });
  });

  it.each([
    ['another user of the same tenant', { tenantId: 'ten_a', userId: 'usr_eve' }],
    ['the same user id in another tenant', { tenantId: 'ten_b', userId: 'usr_ada' }],
  ])('refuses a state presented by %s, and burns it', async (_label, who) => {
    const { flow, calls } = setup();
    const { state } = await flow.start({ ...ada, integration: 'salesforce' });
    await expect(flow.callback({ ...who, state, code: 'c' })).rejects.toMatchObject({ code: 'STATE_MISMATCH' });
    await expect(flow.callback({ ...ada, state, code: 'c' })).rejects.toMatchObject({ code: 'STATE_INVALID' });
    expect(calls.exchange).toHaveLength(0);
  });

  it('requires the RFC 9207 iss parameter to name the provider when the provider announces it', async () => {
    const { flow, calls } = setup({ issParam: true });
    const a = await flow.start({ ...ada, integration: 'salesforce' });
    await expect(flow.callback({ ...ada, state: a.state, code: 'c' })).rejects.toMatchObject({
      code: 'STATE_MISMATCH',
    });
    const b = await flow.start({ ...ada, integration: 'salesforce' });
    await expect(
      flow.callback({ ...ada, state: b.state, code: 'c', iss: 'https://evil.example.test' }),
    ).rejects.toMatchObject({ code: 'STATE_MISMATCH' });
    const c = await flow.start({ ...ada, integration: 'salesforce' });
    await expect(flow.callback({ ...ada, state: c.state, code: 'c', iss: ISSUER })).resolves.toBeTruthy();
    expect(calls.exchange).toHaveLength(1);
  });

  it('reports a refused authorization without exchanging anything', async () => {
    const { flow, calls } = setup();
    const { state } = await flow.start({ ...ada, integration: 'salesforce' });
    await expect(flow.callback({ ...ada, state, error: 'access_denied' })).rejects.toMatchObject({
      code: 'AUTHORIZATION_DENIED',
      providerError: 'access_denied',
    });
    expect(calls.exchange).toHaveLength(0);
  });

  it('refuses an integration that is not configured', async () => {
    const { flow } = setup();
    await expect(flow.start({ ...ada, integration: 'slack' })).rejects.toMatchObject({ code: 'UNKNOWN_INTEGRATION' });
    await expect(flow.start({ ...ada, integration: '__proto__' })).rejects.toMatchObject({
      code: 'UNKNOWN_INTEGRATION',
    });
  });
});

describe('OAuth flow: keeping tokens fresh', () => {
  const tokens = (over: Partial<OAuthTokenSet> = {}): OAuthTokenSet => ({
    integration: 'salesforce',
    accessToken: 'AT-1',
    refreshToken: 'RT-1',
    tokenType: 'Bearer',
    scopes: ['openid'],
    expiresAt: '2026-01-01T00:05:00.000Z',
    obtainedAt: '2026-01-01T00:00:00.000Z',
    ...over,
  });

  it('does not refresh while the token is valid beyond the margin', async () => {
    const { flow, calls } = setup();
    const r = await flow.ensureFresh(tokens(), { now: new Date('2026-01-01T00:03:59Z') });
    expect(r.refreshed).toBe(false);
    expect(calls.refresh).toHaveLength(0);
  });

  it('refreshes within the margin, before expiry', async () => {
    const { flow, calls } = setup();
    const r = await flow.ensureFresh(tokens(), { now: new Date('2026-01-01T00:04:01Z') });
    expect(calls.refresh).toEqual(['RT-1']);
    expect(r).toMatchObject({
      refreshed: true,
      tokens: { accessToken: 'AT-2', refreshToken: 'RT-2', expiresAt: '2026-01-01T00:04:31.000Z' },
    });
  });

  it('keeps the old refresh token when the provider does not rotate it', async () => {
    const { flow } = setup({ refreshResponse: { refreshToken: null } });
    const r = await flow.ensureFresh(tokens(), { forceRefresh: true });
    expect(r.tokens.refreshToken).toBe('RT-1');
  });

  it('shares one refresh between concurrent callers (a rotating token is spent once)', async () => {
    const { flow, calls } = setup();
    const at = { now: new Date('2026-01-01T00:04:30Z') };
    const [a, b] = await Promise.all([flow.ensureFresh(tokens(), at), flow.ensureFresh(tokens(), at)]);
    expect(calls.refresh).toHaveLength(1);
    expect(a.tokens.accessToken).toBe(b.tokens.accessToken);
  });

  it('asks for re-authorization when there is no refresh token', async () => {
    const { flow } = setup();
    await expect(flow.ensureFresh(tokens({ refreshToken: null }), { forceRefresh: true })).rejects.toMatchObject({
      code: 'REAUTHORIZATION_REQUIRED',
    });
  });

  it('asks for re-authorization when the provider answers invalid_grant', async () => {
    const { flow } = setup({
      refreshResponse: new OAuthError('PROVIDER_ERROR', 'refresh refused', { providerError: 'invalid_grant' }),
    });
    await expect(flow.ensureFresh(tokens(), { forceRefresh: true })).rejects.toMatchObject({
      code: 'REAUTHORIZATION_REQUIRED',
    });
  });

  it('never refreshes ahead of time when the provider gave no expiry', async () => {
    const { flow, calls } = setup();
    const r = await flow.ensureFresh(tokens({ expiresAt: null }), { now: new Date('2030-01-01T00:00:00Z') });
    expect(r.refreshed).toBe(false);
    expect(calls.refresh).toHaveLength(0);
  });

  it('revokes the refresh token at the provider', async () => {
    const { flow, calls } = setup();
    await expect(flow.revokeAtProvider(tokens())).resolves.toEqual({ revoked: 'refresh_token' });
    expect(calls.revoke).toEqual([{ token: 'RT-1', hint: 'refresh_token' }]);
  });

  it('logs no token, code or state', async () => {
    const { flow, lines } = setup();
    const { state } = await flow.start({ ...ada, integration: 'salesforce' });
    const { tokens: t } = await flow.callback({ ...ada, state, code: 'the-code' });
    await flow.ensureFresh(t, { forceRefresh: true });
    await flow.revokeAtProvider(t);
    await flow.callback({ ...ada, state, code: 'the-code' }).catch(() => undefined);
    const all = lines.join('\n');
    expect(lines.length).toBeGreaterThanOrEqual(5);
    for (const secret of [state, 'the-code', 'AT-1', 'RT-1', 'AT-2', 'RT-2']) expect(all).not.toContain(secret);
  });
});

describe('OAuthError', () => {
  it('repeats a provider error code only when it is a plain identifier', () => {
    expect(new OAuthError('PROVIDER_ERROR', 'x', { providerError: 'invalid_grant' }).message).toBe('x (invalid_grant)');
    const e = new OAuthError('PROVIDER_ERROR', 'x', { providerError: 'token=RT-secret leaked here' });
    expect(e.message).not.toContain('RT-secret');
    expect(e.providerError).toBe('unrecognized_error');
  });
});
