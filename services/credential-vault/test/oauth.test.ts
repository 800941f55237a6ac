// The OAuth module against a real OpenID Connect provider (`oidc-provider`, run by the testkit
// over HTTPS with a certificate from the stack CA). Nothing of the protocol is stubbed: PKCE,
// state, code exchange, refresh-token rotation, revocation and introspection are the library's.
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { createLogger } from '@flow8/telemetry';
import { eventually, startOidcProvider, type OidcTestProvider } from '@flow8/testkit';
import {
  createMemoryOAuthStore,
  createOAuthClient,
  createOAuthClients,
  createOAuthFlow,
  generateCodeVerifier,
  generateState,
  localIntegrations,
  OAuthError,
  type OAuthFlow,
  type OAuthStore,
  type OAuthTokenSet,
  type PendingAuthorization,
} from '../src/features/oauth/index';

const REDIRECT_URI = 'https://app.flow8.test/oauth/callback';
const ada = { tenantId: 'ten_01oauthtest', userId: 'usr_01ada' };

// Every secret value the suite sees; at the end none may appear in the captured log or in any
// error the module threw.
const secrets = new Set<string>();
const remember = (...values: (string | null | undefined)[]) => {
  for (const v of values) if (v) secrets.add(v);
};
const errors: unknown[] = [];
const logLines: string[] = [];

let idp: OidcTestProvider;
let flow: OAuthFlow;

function recordingStore(): OAuthStore {
  const inner = createMemoryOAuthStore();
  return {
    savePending: (p: PendingAuthorization) => {
      remember(p.codeVerifier);
      return inner.savePending(p);
    },
    takePending: (h: string) => inner.takePending(h),
  };
}

// The service logger as the vault would build it, writing into `logLines`.
const logger = createLogger({
  service: 'credential-vault-test',
  level: 'debug',
  destination: new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(chunk.toString('utf8'));
      cb();
    },
  }),
});

function makeFlow(provider: OidcTestProvider, opts: { refreshMarginSeconds?: number } = {}): OAuthFlow {
  return createOAuthFlow({
    store: recordingStore(),
    clients: createOAuthClients(
      localIntegrations(provider.issuer),
      { salesforce: { clientId: provider.clientId, clientSecret: provider.clientSecret } },
      { ca: provider.ca, allowPrivateHosts: ['localhost'] },
    ),
    redirectUri: REDIRECT_URI,
    logger,
    refreshMarginSeconds: opts.refreshMarginSeconds ?? 10,
  });
}

async function expectOAuthError(p: Promise<unknown>, code: string, providerError?: string): Promise<OAuthError> {
  const e: unknown = await p.then(
    () => new Error('expected a refusal'),
    (err: unknown) => err,
  );
  errors.push(e);
  logger.warn({ err: e }, 'oauth request failed'); // as a route's error handler would
  expect(e).toBeInstanceOf(OAuthError);
  expect(e).toMatchObject({ code, ...(providerError ? { providerError } : {}) });
  return e as OAuthError;
}

/** start → the user signs in at the provider → callback: the whole browser round trip. */
async function connect(f: OAuthFlow = flow, provider: OidcTestProvider = idp) {
  const started = await f.start({ ...ada, integration: 'salesforce' });
  remember(started.state);
  const back = await provider.authorize(started.authorizationUrl);
  remember(back.code);
  const done = await f.callback({
    ...ada,
    state: back.state,
    code: back.code,
    iss: back.redirectedTo.searchParams.get('iss'),
  });
  remember(done.tokens.accessToken, done.tokens.refreshToken);
  return { started, back, done };
}

beforeAll(async () => {
  idp = await startOidcProvider({ redirectUris: [REDIRECT_URI], accessTokenTtlSeconds: 30 });
  remember(idp.clientSecret, idp.user.password);
  flow = makeFlow(idp);
});

afterAll(async () => {
  await idp.stop();
});

describe('authorization code + PKCE against oidc-provider over HTTPS', () => {
  it('connects: the provider issues live access and refresh tokens for the registered client', async () => {
    const { started, back, done } = await connect();
    const url = new URL(started.authorizationUrl);
    expect(url.origin).toBe(idp.issuer);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.has('code_verifier')).toBe(false);
    expect(back.state).toBe(started.state);

    expect(done.tokens).toMatchObject({ integration: 'salesforce', tokenType: 'Bearer' });
    expect(done.tokens.refreshToken).toEqual(expect.any(String));
    const expiresIn = (Date.parse(done.tokens.expiresAt ?? '') - Date.now()) / 1000;
    expect(expiresIn).toBeGreaterThan(20);
    expect(expiresIn).toBeLessThanOrEqual(30);

    const at = await idp.introspect(done.tokens.accessToken);
    expect(at).toMatchObject({ active: true, client_id: idp.clientId, sub: idp.user.accountId });
    expect(String(at.scope)).toContain('offline_access');
    expect(await idp.introspect(done.tokens.refreshToken ?? '')).toMatchObject({ active: true });
  });

  it('refuses a wrong or missing state without spending the code', async () => {
    const started = await flow.start({ ...ada, integration: 'salesforce' });
    const back = await idp.authorize(started.authorizationUrl);
    remember(started.state, back.code);
    const iss = back.redirectedTo.searchParams.get('iss');

    await expectOAuthError(flow.callback({ ...ada, state: generateState(), code: back.code, iss }), 'STATE_INVALID');
    await expectOAuthError(flow.callback({ ...ada, state: null, code: back.code, iss }), 'STATE_INVALID');

    // The refused attempts never reached the provider: the code still works with the right state.
    const done = await flow.callback({ ...ada, state: back.state, code: back.code, iss });
    remember(done.tokens.accessToken, done.tokens.refreshToken);
    expect(await idp.introspect(done.tokens.accessToken)).toMatchObject({ active: true });
  });

  it('refuses a replayed callback, and the first tokens stay valid', async () => {
    const { back, done } = await connect();
    const iss = back.redirectedTo.searchParams.get('iss');
    await expectOAuthError(flow.callback({ ...ada, state: back.state, code: back.code, iss }), 'STATE_INVALID');
    // Had the replay reached the provider, code reuse would have revoked the grant (RFC 6749 §4.1.2).
    expect(await idp.introspect(done.tokens.accessToken)).toMatchObject({ active: true });
  });

  it('refuses a callback from another user of the tenant or from another issuer', async () => {
    const a = await flow.start({ ...ada, integration: 'salesforce' });
    const backA = await idp.authorize(a.authorizationUrl);
    remember(a.state, backA.code);
    await expectOAuthError(
      flow.callback({
        tenantId: ada.tenantId,
        userId: 'usr_01eve',
        state: backA.state,
        code: backA.code,
        iss: backA.redirectedTo.searchParams.get('iss'),
      }),
      'STATE_MISMATCH',
    );

    // oidc-provider announces RFC 9207: a response without iss (or with another one) is refused.
    const b = await flow.start({ ...ada, integration: 'salesforce' });
    const backB = await idp.authorize(b.authorizationUrl);
    remember(b.state, backB.code);
    expect(backB.redirectedTo.searchParams.get('iss')).toBe(idp.issuer);
    await expectOAuthError(flow.callback({ ...ada, state: backB.state, code: backB.code }), 'STATE_MISMATCH');
  });

  it('the provider refuses a code presented with the wrong code_verifier (a stolen code is useless)', async () => {
    const client = createOAuthClient({
      integration: localIntegrations(idp.issuer).salesforce,
      credentials: { clientId: idp.clientId, clientSecret: idp.clientSecret },
      egress: { ca: idp.ca, allowPrivateHosts: ['localhost'] },
    });
    const verifier = generateCodeVerifier();
    const url = await client.buildAuthorizationUrl({
      state: generateState(),
      codeVerifier: verifier,
      scopes: ['openid', 'offline_access'],
      redirectUri: REDIRECT_URI,
    });
    const back = await idp.authorize(url);
    remember(verifier, back.code);
    const e = await expectOAuthError(
      client.exchangeCode({ code: back.code ?? '', codeVerifier: generateCodeVerifier(), redirectUri: REDIRECT_URI }),
      'PROVIDER_ERROR',
      'invalid_grant',
    );
    expect(e.httpStatus).toBe(400);
  });

  it('the provider refuses an authorization request without PKCE', async () => {
    const started = await flow.start({ ...ada, integration: 'salesforce' });
    remember(started.state);
    const url = new URL(started.authorizationUrl);
    url.searchParams.delete('code_challenge');
    url.searchParams.delete('code_challenge_method');
    const back = await idp.authorize(url.toString());
    expect(back.code).toBeNull();
    expect(back.error).toBe('invalid_request');
  });

  it('refuses the provider when its certificate is not from a trusted CA, and private hosts unless allowed', async () => {
    const integration = localIntegrations(idp.issuer).salesforce;
    const credentials = { clientId: idp.clientId, clientSecret: idp.clientSecret };
    const args = {
      state: generateState(),
      codeVerifier: generateCodeVerifier(),
      scopes: [],
      redirectUri: REDIRECT_URI,
    };
    const publicRootsOnly = createOAuthClient({
      integration,
      credentials,
      egress: { allowPrivateHosts: ['localhost'] },
    });
    const e = await expectOAuthError(publicRootsOnly.buildAuthorizationUrl(args), 'NETWORK');
    expect(inspect(e.cause)).toMatch(/certificate/i);
    const noAllowlist = createOAuthClient({ integration, credentials, egress: { ca: idp.ca } });
    await expectOAuthError(noAllowlist.buildAuthorizationUrl(args), 'EGRESS_REFUSED');
  });
});

describe('token lifecycle', () => {
  it('refreshes before expiry: the new access token is live while the old one has not expired', async () => {
    const { done } = await connect();
    const first = done.tokens;
    const notYet = await flow.ensureFresh(first);
    expect(notYet).toEqual({ tokens: first, refreshed: false });

    // 21 s from now the 30 s token is within the 10 s margin.
    const later = new Date(Date.now() + 21_000);
    const { tokens: second, refreshed } = await flow.ensureFresh(first, { now: later });
    remember(second.accessToken, second.refreshToken);
    expect(refreshed).toBe(true);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(Date.parse(second.expiresAt ?? '')).toBeGreaterThan(Date.parse(first.expiresAt ?? ''));
    expect(await idp.introspect(first.accessToken)).toMatchObject({ active: true }); // not expired yet
    expect(await idp.introspect(second.accessToken)).toMatchObject({ active: true, client_id: idp.clientId });

    // The provider rotates refresh tokens: the returned one works, the spent one no longer does.
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(await idp.introspect(first.refreshToken ?? '')).toMatchObject({ active: false });
    const third = await flow.ensureFresh(second, { forceRefresh: true });
    remember(third.tokens.accessToken, third.tokens.refreshToken);
    expect(await idp.introspect(third.tokens.accessToken)).toMatchObject({ active: true });
  });

  it('an access token past its TTL is dead at the provider; ensureFresh replaces it with a live one', async () => {
    const shortLived = await startOidcProvider({ redirectUris: [REDIRECT_URI], accessTokenTtlSeconds: 2 });
    remember(shortLived.clientSecret, shortLived.user.password);
    try {
      const f = makeFlow(shortLived, { refreshMarginSeconds: 1 });
      const { done } = await connect(f, shortLived);
      expect((await f.ensureFresh(done.tokens)).refreshed).toBe(false);
      // The provider's own clock ends the token: wait until it says so (about 2 s).
      await eventually(async () => (await shortLived.introspect(done.tokens.accessToken)).active === false, {
        what: 'the provider to expire the access token',
        timeoutMs: 10_000,
        intervalMs: 250,
      });
      const { tokens, refreshed } = await f.ensureFresh(done.tokens);
      remember(tokens.accessToken, tokens.refreshToken);
      expect(refreshed).toBe(true);
      expect(await shortLived.introspect(tokens.accessToken)).toMatchObject({ active: true });
    } finally {
      await shortLived.stop();
    }
  });

  it('revocation at the provider ends the grant: the refresh token no longer works', async () => {
    const { done } = await connect();
    const tokens: OAuthTokenSet = done.tokens;
    await expect(flow.revokeAtProvider(tokens)).resolves.toEqual({ revoked: 'refresh_token' });

    expect(await idp.introspect(tokens.refreshToken ?? '')).toMatchObject({ active: false });
    // oidc-provider revokes the whole grant with its refresh token, access tokens included.
    expect(await idp.introspect(tokens.accessToken)).toMatchObject({ active: false });
    await expectOAuthError(flow.ensureFresh(tokens, { forceRefresh: true }), 'REAUTHORIZATION_REQUIRED');
    // Revoking again is not an error (RFC 7009 §2.2): deleting a credential twice is safe.
    await expect(flow.revokeAtProvider(tokens)).resolves.toEqual({ revoked: 'refresh_token' });
  });
});

describe('no secret leaves in logs or errors', () => {
  it('the captured log and every thrown error are free of tokens, codes, states, verifiers and client secrets', () => {
    expect(logLines.length).toBeGreaterThan(10);
    expect(errors.length).toBeGreaterThan(8);
    expect(secrets.size).toBeGreaterThan(20);
    const logText = logLines.join('');
    expect(logText).toContain('oauth tokens obtained');
    expect(logText).toContain('oauth access token refreshed');
    expect(logText).toContain('oauth grant revoked at the provider');
    const errorText = errors.map((e) => inspect(e, { depth: 10 })).join('\n');
    for (const s of secrets) {
      expect(logText.includes(s) ? `log contains a secret (${s.length} chars)` : 'clean').toBe('clean');
      expect(errorText.includes(s) ? `an error contains a secret (${s.length} chars)` : 'clean').toBe('clean');
    }
  });
});
