// The OAuth2 routes of the running vault against a real OpenID Connect provider (oidc-provider
// over HTTPS, stack CA): start → the provider's login and consent → callback → an `oauth2`
// credential; resolve by the flow engine refreshes transparently after the access-token TTL (on
// the vault's clock, which the suite drives: no waiting out real TTLs);
// delete revokes the grant at the provider. No token, code, state or client secret may appear in
// any API response, in the service log or on the vault topic.
import { createHash } from 'node:crypto';
import { newId } from '@flow8/contracts';
import {
  eventually,
  manualClock,
  resolveBody,
  stackEnv,
  startOidcProvider,
  type HttpsResponse,
  type OidcTestProvider,
} from '@flow8/testkit';
import { designer, newTenant, startVault, vaultEvents, type Principal, type VaultHarness } from './harness';

const REDIRECT_URI = 'https://app.flow8.test/oauth/callback';
// Longer than the suite runs: the provider's tokens stay live, and the vault's own clock (driven
// below) is what makes one due for refresh.
const ACCESS_TOKEN_TTL_SECONDS = 600;
const REFRESH_MARGIN_SECONDS = 1;

/** The vault replicas' clock: stands still unless a test moves it past the access-token TTL. */
const clock = manualClock();
const passAccessTokenTtl = () => clock.advance((ACCESS_TOKEN_TTL_SECONDS + 1) * 1000);

let idp: OidcTestProvider;
let v: VaultHarness;
let replica: VaultHarness; // a second vault on the same database: two replicas of one deployment
const responses: HttpsResponse[] = [];
const secrets = new Set<string>();
// The state is handed to the frontend by design (start's response); it must appear nowhere else.
const states = new Set<string>();
const remember = (...values: (string | null | undefined)[]) => {
  for (const x of values) if (x) secrets.add(x);
};

async function call(method: string, path: string, principal: Principal, body?: unknown): Promise<HttpsResponse> {
  const res = await v.call(method, path, { principal, body });
  responses.push(res);
  return res;
}

interface Started {
  authorizationUrl: string;
  state: string;
  expiresAt: string;
}

async function start(p: Principal, name = 'Salesforce (sales team)'): Promise<Started> {
  const res = await call('POST', '/v1/credentials/oauth/salesforce/start', p, { name, scopes: ['records:read'] });
  expect(res.status).toBe(200);
  const started = res.json<Started>();
  states.add(started.state);
  return started;
}

async function authorizeAtProvider(started: Started): Promise<{ code: string; state: string; iss: string }> {
  const back = await idp.authorize(started.authorizationUrl);
  expect(back.error).toBeNull();
  remember(back.code);
  return { code: back.code ?? '', state: back.state ?? '', iss: back.redirectedTo.searchParams.get('iss') ?? '' };
}

const callbackPath = (q: { code: string; state: string; iss: string }) =>
  `/v1/credentials/oauth/callback?${new URLSearchParams(q).toString()}`;

beforeAll(async () => {
  idp = await startOidcProvider({ redirectUris: [REDIRECT_URI], accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS });
  remember(idp.clientSecret);
  v = await startVault({
    now: clock.now,
    overrides: {
      VAULT_OAUTH_REDIRECT_URI: REDIRECT_URI,
      VAULT_OAUTH_CA_FILE: stackEnv().caFile,
      VAULT_OAUTH_SALESFORCE_CLIENT_ID: idp.clientId,
      VAULT_OAUTH_SALESFORCE_CLIENT_SECRET: idp.clientSecret,
      VAULT_OAUTH_SALESFORCE_ISSUER: idp.issuer,
      VAULT_OAUTH_SALESFORCE_ALLOW_PRIVATE_HOSTS: 'localhost',
      VAULT_OAUTH_REFRESH_MARGIN: `${REFRESH_MARGIN_SECONDS}s`,
    },
  });
  replica = await startVault({
    db: v.db,
    prefix: v.prefix,
    seed: v.seed,
    serviceSeeds: v.serviceSeeds,
    now: clock.now,
    overrides: { ...v.env, PORT: '8102' },
  });
}, 60_000);

afterAll(async () => {
  await replica?.stop();
  await v?.stop();
  await idp?.stop();
});

describe('OAuth2 credentials through the vault routes', () => {
  const tenantId = newTenant();
  const ada = designer(tenantId);
  let credentialId = '';
  const accessTokens: string[] = [];

  it('start → authorize at the provider → callback creates an oauth2 credential, metadata only', async () => {
    const started = await start(ada);
    expect(new URL(started.authorizationUrl).origin).toBe(idp.issuer);
    expect(new URL(started.authorizationUrl).searchParams.get('code_challenge_method')).toBe('S256');
    const back = await authorizeAtProvider(started);
    expect(back.state).toBe(started.state);

    const res = await call('GET', callbackPath(back), ada);
    expect(res.status).toBe(201);
    const view = res.json<Record<string, unknown>>();
    expect(view).toMatchObject({
      integration: 'salesforce',
      name: 'Salesforce (sales team)',
      kind: 'oauth2',
      scopes: ['records:read'],
      status: 'active',
      version: 1,
      createdBy: ada.id,
    });
    expect(Object.keys(view).sort()).toEqual(
      [
        'createdAt',
        'createdBy',
        'id',
        'integration',
        'kind',
        'name',
        'revokedAt',
        'scopes',
        'status',
        'updatedAt',
        'version',
      ].sort(),
    );
    credentialId = view.id as string;
    // The code verifier is sealed, the state never stored: nothing readable remains after the callback.
    const pending = await v.db.admin.query('SELECT count(*)::int AS n FROM oauth_pending');
    expect(pending.rows[0]).toEqual({ n: 0 });
  });

  it('refuses a replayed, unknown or foreign state, and another user of the same company', async () => {
    const started = await start(ada, 'second');
    // At rest: only the state's hash, and the code verifier sealed (AEAD v1), never in clear.
    const { rows } = await v.db.admin.query<{ state_hash: string; code_verifier: Buffer }>(
      'SELECT state_hash, code_verifier FROM oauth_pending',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.state_hash).toBe(createHash('sha256').update(started.state).digest('hex'));
    expect(rows[0]!.code_verifier[0]).toBe(1);
    const challenge = new URL(started.authorizationUrl).searchParams.get('code_challenge');
    expect(rows[0]!.code_verifier.toString('latin1')).not.toMatch(/^[A-Za-z0-9_~.-]{43,128}$/);
    expect(challenge).toBeTruthy();
    const back = await authorizeAtProvider(started);
    // Another user of the same company presenting ada's state: refused, and the state is spent.
    const bob = designer(tenantId);
    const stolen = await call('GET', callbackPath(back), bob);
    expect(stolen.status).toBe(400);
    const replay = await call('GET', callbackPath(back), ada);
    expect(replay.status).toBe(400);
    const made = await call('GET', callbackPath({ ...back, state: 'A'.repeat(43) }), ada);
    expect(made.status).toBe(400);
    // Another company cannot see (or spend) a state at all.
    const third = await start(ada, 'third');
    const back3 = await authorizeAtProvider(third);
    const other = await call('GET', callbackPath(back3), designer(newTenant()));
    expect(other.status).toBe(400);
    // Only the first credential exists.
    const list = await call('GET', '/v1/credentials?limit=50', ada);
    expect(list.json<{ items: { id: string }[] }>().items.map((i) => i.id)).toEqual([credentialId]);
  });

  it('an executor cannot start an authorization', async () => {
    const res = await call(
      'POST',
      '/v1/credentials/oauth/salesforce/start',
      { tenantId, id: newId('usr'), role: 'executor' },
      {
        name: 'x',
        scopes: ['records:read'],
      },
    );
    expect(res.status).toBe(403);
  });

  it('resolve returns a live access token only, and refreshes it transparently after its TTL', async () => {
    const first = await v.resolve(credentialId, { tenantId }, resolveBody('records:read'));
    expect(first.status).toBe(200);
    const a = first.json<{ version: number; secret: string }>();
    accessTokens.push(a.secret);
    remember(a.secret);
    // The vault's clock has not moved: the token from the callback, version 1, unrefreshed.
    expect(a.version).toBe(1);
    expect(a.secret).not.toContain('{'); // the access token, not the serialised token set
    expect(await idp.introspect(a.secret)).toMatchObject({ active: true, client_id: idp.clientId });

    passAccessTokenTtl();

    const second = await v.resolve(credentialId, { tenantId }, resolveBody('records:read'));
    expect(second.status).toBe(200);
    const b = second.json<{ version: number; secret: string }>();
    accessTokens.push(b.secret);
    remember(b.secret);
    expect(b.version).toBe(2);
    expect(b.secret).not.toBe(a.secret);
    expect(await idp.introspect(b.secret)).toMatchObject({ active: true });
    const meta = await call('GET', `/v1/credentials/${credentialId}`, ada);
    expect(meta.json()).toMatchObject({ version: b.version, status: 'active' });
  });

  it('concurrent resolves on two replicas after expiry refresh once (the rotating refresh token is spent once)', async () => {
    passAccessTokenTtl();
    // oidc-provider treats a second use of a rotated refresh token as theft and revokes the
    // whole grant: without the row lock one replica would spend it again and this would fail.
    const results = await Promise.all(
      [v, replica, v, replica].map((x) => x.resolve(credentialId, { tenantId }, resolveBody('records:read'))),
    );
    for (const r of results) expect(r.status).toBe(200);
    const got = results.map((r) => r.json<{ version: number; secret: string }>());
    for (const g of got) remember(g.secret);
    expect(new Set(got.map((g) => g.version))).toEqual(new Set([3]));
    expect(new Set(got.map((g) => g.secret)).size).toBe(1);
    accessTokens.push(got[0]!.secret);
    // A replayed rotated refresh token would have revoked the grant: the token still works.
    expect(await idp.introspect(got[0]!.secret)).toMatchObject({ active: true });
  });

  it('delete revokes locally and at the provider', async () => {
    const res = await call('DELETE', `/v1/credentials/${credentialId}`, ada);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ id: credentialId, status: 'revoked', providerRevocation: 'revoked' });
    expect(await idp.introspect(accessTokens[accessTokens.length - 1]!)).toMatchObject({ active: false });
    const after = await v.resolve(credentialId, { tenantId }, resolveBody('records:read'));
    expect(after.status).toBe(403);
  });

  it('a hand-entered oauth2 secret resolves as entered and deletes without a provider call', async () => {
    const created = await call('POST', '/v1/credentials', ada, {
      integration: 'salesforce',
      name: 'pasted token',
      kind: 'oauth2',
      scopes: ['records:read'],
      secret: 'pasted-access-token-123',
    });
    expect(created.status).toBe(201);
    const id = created.json<{ id: string }>().id;
    const r = await v.resolve(id, { tenantId }, resolveBody('records:read'));
    expect(r.json()).toMatchObject({ secret: 'pasted-access-token-123', version: 1 });
    const del = await call('DELETE', `/v1/credentials/${id}`, ada);
    expect(del.status).toBe(204);
  });

  it('publishes created, rotated (refresh) and revoked events without any token', async () => {
    const { events, raw } = await eventually(async () => {
      const got = await vaultEvents(v.prefix);
      const mine = got.events.filter((e) => e.resource.id === credentialId);
      if (!mine.some((e) => e.type === 'vault.credential.revoked')) throw new Error('not yet');
      return got;
    });
    const mine = events.filter((e) => e.resource.id === credentialId).map((e) => e.type);
    expect(mine).toContain('vault.credential.created');
    // One rotated event per refresh: versions 2 and 3.
    expect(mine.filter((t) => t === 'vault.credential.rotated')).toHaveLength(2);
    expect(mine).toContain('vault.credential.revoked');
    const created = events.find((e) => e.type === 'vault.credential.created' && e.resource.id === credentialId);
    expect(created?.payload).toMatchObject({ kind: 'oauth2', integration: 'salesforce', scopes: ['records:read'] });
    const text = raw.join('\n');
    for (const s of [...secrets, ...states]) expect(text).not.toContain(s);
  }, 30_000);

  it('a refresh the provider refuses is refused to the flow engine and audited as refresh_failed', async () => {
    const started = await start(ada, 'revoked at the provider');
    const made = await call('GET', callbackPath(await authorizeAtProvider(started)), ada);
    expect(made.status).toBe(201);
    const id = made.json<{ id: string }>().id;
    const ok = await v.resolve(id, { tenantId }, resolveBody('records:read'));
    expect(ok.status).toBe(200);
    const token = ok.json<{ secret: string }>().secret;
    remember(token);
    // Someone revokes the app's access at the provider (an admin there, a password reset...).
    const at = await idp.provider.AccessToken.find(token);
    const grant = await idp.provider.Grant.find(at!.grantId!);
    await grant!.destroy();
    passAccessTokenTtl();

    const refused = await v.resolve(id, { tenantId }, resolveBody('records:read'));
    expect(refused.status).toBe(409);
    expect(refused.json<{ error: { details?: { reason?: string } } }>().error.details?.reason).toBe(
      'reauthorization_required',
    );
    const events = await eventually(async () => {
      const got = (await vaultEvents(v.prefix)).events.filter(
        (e) => e.resource.id === id && e.type.startsWith('vault.credential.use'),
      );
      return got.length >= 2 ? got : undefined;
    });
    expect(events.map((e) => `${e.type}:${String(e.payload.reason ?? '')}`)).toEqual([
      'vault.credential.used:',
      'vault.credential.use_refused:refresh_failed',
    ]);
    // Nothing was stored for the failed refresh: still version 1.
    expect((await call('GET', `/v1/credentials/${id}`, ada)).json()).toMatchObject({ version: 1, status: 'active' });
  });

  it('no token, code, state or client secret in any API response or the service log', () => {
    expect(secrets.size).toBeGreaterThan(5);
    const bodies = responses.map((r) => r.body).join('\n');
    const log = v.logText() + replica.logText();
    for (const s of secrets) expect(bodies).not.toContain(s);
    // States only in start responses, never in a callback's answer or anything else.
    const notStart = responses
      .filter((r) => !r.body.includes('authorizationUrl'))
      .map((r) => r.body)
      .join('\n');
    for (const s of states) expect(notStart).not.toContain(s);
    for (const s of [...secrets, ...states]) expect(log).not.toContain(s);
    expect(log).not.toMatch(/"(refreshToken|refresh_token|accessToken|access_token)":"(?!\[Redacted\])/);
  });
});
