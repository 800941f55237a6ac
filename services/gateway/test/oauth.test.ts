// Connecting an integration with OAuth2, end to end through the real gateway over HTTPS: a Flow
// Designer's real session starts the authorization, the user signs in and consents at a real
// OpenID Connect provider (oidc-provider), and the frontend's redirect page — played here — hands
// `state`, `code` and `iss` to the callback with the same session. The result is an `oauth2`
// credential, in the ledger with the designer as actor; deleting it revokes the grant at the
// provider. The state is the thing to steal, so it is stolen: by a colleague, by another company's
// Admin, replayed; and no token, code, state or client secret may surface in any response or log.
import {
  addMember,
  call,
  companyWithAdmin,
  eventually,
  randomId,
  randomIpv4,
  resolveBody,
  type Res,
  type Session,
} from '@flow8/testkit';

import {
  authorizeAtProvider,
  callbackPath,
  denyAtProvider,
  idpOf,
  NO_RATE_LIMITS,
  OAUTH_INTEGRATION,
  OAUTH_SCOPE,
  startGateway,
  startUpstreams,
  suiteKeys,
  TRUSTED_LOOPBACK,
  type ProviderAnswer,
} from './harness';

type Gw = Awaited<ReturnType<typeof startGateway>>;
type Up = Awaited<ReturnType<typeof startUpstreams>>;

interface Started {
  authorizationUrl: string;
  state: string;
  expiresAt: string;
}
interface CredentialView {
  id: string;
  integration: string;
  name: string;
  kind: string;
  scopes: string[];
  status: string;
  version: number;
  createdBy: string;
}
interface LedgerItem {
  type: string;
  actor: { type: string; id: string; ip?: string | null };
  resource: { type: string; id: string };
  payload: Record<string, unknown>;
}

const keys = suiteKeys();
let up: Up;
let gw: Gw;
let admin: Session; // company 1
let ada: Session; // Flow Designer, company 1
let bob: Session; // another Flow Designer, company 1
let viewer: Session;
let executor: Session;
let otherAdmin: Session; // company 2

const ip = randomIpv4();
const as = (s: Session) => ({ ...s.headers, 'x-forwarded-for': ip });

/** Every response body the suite received, and the values that must never be in one (or a log). */
const bodies: string[] = [];
const secrets = new Set<string>();
/** States are handed to the frontend by design (start's answer); nowhere else. */
const states = new Set<string>();

async function send(path: string, s: Session, opts: { method?: string; body?: unknown } = {}): Promise<Res> {
  const r = await call(gw.url, path, { ...opts, headers: as(s) });
  bodies.push(r.body);
  return r;
}

async function start(s: Session, name: string): Promise<Res> {
  return send(`/v1/credentials/oauth/${OAUTH_INTEGRATION}/start`, s, {
    method: 'POST',
    body: { name, scopes: [OAUTH_SCOPE] },
  });
}

/** A started authorization, the user's consent at the provider, and the query it redirects back with. */
async function consented(s: Session, name: string): Promise<{ started: Started; answer: ProviderAnswer }> {
  const r = await start(s, name);
  expect(r.status).toBe(200);
  const started = r.json<Started>();
  states.add(started.state);
  const answer = await authorizeAtProvider(idpOf(up), started.authorizationUrl);
  secrets.add(answer.code!);
  return { started, answer };
}

const errorOf = (r: Res) => r.json<{ error: { code: string; message: string; details?: { reason?: string } } }>().error;
const refusal = (r: Res) => ({ status: r.status, code: errorOf(r).code, reason: errorOf(r).details?.reason });

async function credentialsOf(s: Session): Promise<CredentialView[]> {
  const r = await send('/v1/credentials?limit=200', s);
  expect(r.status).toBe(200);
  return r.json<{ items: CredentialView[] }>().items;
}

async function ledger(type: string): Promise<LedgerItem[]> {
  const r = await call(gw.url, `/v1/audit/events?limit=500&type=${encodeURIComponent(type)}`, { headers: as(admin) });
  if (r.status !== 200) throw new Error(`audit query answered ${r.status}: ${r.body}`);
  return r.json<{ items: LedgerItem[] }>().items;
}

beforeAll(async () => {
  up = await startUpstreams(keys, { sharedPrefix: true, oauth: true });
  gw = await startGateway(keys, up.urls, {
    ...TRUSTED_LOOPBACK,
    ...NO_RATE_LIMITS,
    // Everything the gateway can say, so the log search below sees the most verbose output.
    LOG_LEVEL: 'trace',
  });
  secrets.add(idpOf(up).clientSecret);
  const xff = { 'x-forwarded-for': ip };
  const [one, two] = await Promise.all([
    companyWithAdmin(gw.url, keys.operatorToken, { headers: xff }),
    companyWithAdmin(gw.url, keys.operatorToken, { headers: xff }),
  ]);
  admin = one.admin;
  otherAdmin = two.admin;
  const user = async (role: string) =>
    (await addMember(gw.url, admin, { tenant: one.company.slug, role, domain: 'oauth.test', headers: xff })).session;
  [ada, bob, viewer, executor] = await Promise.all([
    user('flow_designer'),
    user('flow_designer'),
    user('viewer'),
    user('executor'),
  ]);
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await up?.stop();
});

describe('a Flow Designer connects an integration with OAuth2 through the gateway', () => {
  let credentialId = '';
  let completed: ProviderAnswer;

  it('start → consent at the provider → callback with the same session: a 201 oauth2 credential', async () => {
    const { started, answer } = await consented(ada, 'Salesforce (sales team)');
    const url = new URL(started.authorizationUrl);
    expect(url.origin).toBe(idpOf(up).issuer);
    expect(url.searchParams.get('state')).toBe(started.state);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(answer.state).toBe(started.state);

    const r = await send(callbackPath(answer), ada);
    expect(r.status).toBe(201);
    const view = r.json<CredentialView>();
    expect(view).toMatchObject({
      integration: OAUTH_INTEGRATION,
      name: 'Salesforce (sales team)',
      kind: 'oauth2',
      scopes: [OAUTH_SCOPE],
      status: 'active',
      version: 1,
      createdBy: ada.userId,
    });
    credentialId = view.id;
    completed = answer;
    // …and it is there for the company: in ada's list and the Admin's.
    expect((await credentialsOf(ada)).map((c) => c.id)).toContain(credentialId);
    expect((await credentialsOf(admin)).find((c) => c.id === credentialId)).toMatchObject({ kind: 'oauth2' });
  });

  it('the completed callback replayed, even by ada herself, is refused: the state is single use', async () => {
    const r = await send(callbackPath(completed), ada);
    expect(refusal(r)).toEqual({ status: 400, code: 'BAD_REQUEST', reason: 'STATE_INVALID' });
    expect((await credentialsOf(ada)).filter((c) => c.kind === 'oauth2')).toHaveLength(1);
  });

  it("another designer of the same company replaying ada's callback is refused, and the state is burnt", async () => {
    const before = await credentialsOf(admin);
    const { answer } = await consented(ada, 'stolen by a colleague');
    // bob holds credentials:write like ada; only the binding of the state to ada stops him.
    const stolen = await send(callbackPath(answer), bob);
    expect(refusal(stolen)).toEqual({ status: 400, code: 'BAD_REQUEST', reason: 'STATE_MISMATCH' });
    // The attempt spent the state: ada cannot be made to finish a flow someone else touched.
    const late = await send(callbackPath(answer), ada);
    expect(refusal(late)).toEqual({ status: 400, code: 'BAD_REQUEST', reason: 'STATE_INVALID' });
    expect(await credentialsOf(admin)).toEqual(before);
  });

  it("another company's Admin with ada's state is refused as if it did not exist, and cannot spend it", async () => {
    const { answer } = await consented(ada, 'seen by another company');
    const foreign = await send(callbackPath(answer), otherAdmin);
    const none = await send(callbackPath({ ...answer, state: randomId() + randomId() }), otherAdmin);
    expect(refusal(foreign)).toEqual({ status: 400, code: 'BAD_REQUEST', reason: 'STATE_INVALID' });
    expect(errorOf(foreign).message).toBe(errorOf(none).message);
    expect(await credentialsOf(otherAdmin)).toEqual([]);
    // The state lives in ada's company only: it is still ada's to finish.
    const mine = await send(callbackPath(answer), ada);
    expect(mine.status).toBe(201);
    expect(mine.json<CredentialView>()).toMatchObject({ name: 'seen by another company', createdBy: ada.userId });
  });

  it.each([
    ['a Viewer', () => viewer],
    ['an Executor', () => executor],
  ])('%s is refused by the gateway at start and at the callback', async (_role, who) => {
    const pending = async () =>
      (
        await up.vault.db.admin.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM oauth_pending WHERE user_id = $1',
          [who().userId],
        )
      ).rows[0]!.n;
    const r = await start(who(), 'not allowed');
    expect({ status: r.status, code: errorOf(r).code }).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await pending()).toBe(0);
    const { answer } = await consented(ada, `held by ada ${randomId().slice(0, 6)}`);
    const cb = await send(callbackPath(answer), who());
    expect({ status: cb.status, code: errorOf(cb).code }).toEqual({ status: 403, code: 'FORBIDDEN' });
    // Refused before the vault: ada's state is untouched and still hers.
    expect((await send(callbackPath(answer), ada)).status).toBe(201);
  });

  it('an authorization the user refuses at the provider: a clear 400, and no credential', async () => {
    const before = await credentialsOf(admin);
    const r = await start(ada, 'refused at the provider');
    expect(r.status).toBe(200);
    const started = r.json<Started>();
    states.add(started.state);
    const answer = await denyAtProvider(idpOf(up), started.authorizationUrl);
    expect(answer).toMatchObject({ error: 'access_denied', state: started.state, iss: idpOf(up).issuer });
    const denied = await send(callbackPath(answer), ada);
    expect(refusal(denied)).toEqual({ status: 400, code: 'BAD_REQUEST', reason: 'AUTHORIZATION_DENIED' });
    expect(errorOf(denied).message).toMatch(/not granted.*access_denied/);
    expect(await credentialsOf(admin)).toEqual(before);
    // The refusal spent the state too: it cannot be "completed" afterwards with some code.
    const after = await send(callbackPath({ state: started.state, code: randomId(), iss: answer.iss }), ada);
    expect(refusal(after)).toEqual({ status: 400, code: 'BAD_REQUEST', reason: 'STATE_INVALID' });
  });

  it('the connection is in the ledger, created by the designer', async () => {
    const entry = await eventually(
      async () => (await ledger('vault.credential.created')).find((e) => e.resource.id === credentialId),
      { timeoutMs: 60_000, what: 'vault.credential.created of the OAuth2 credential' },
    );
    expect(entry).toMatchObject({
      type: 'vault.credential.created',
      actor: { type: 'user', id: ada.userId, ip },
      resource: { type: 'credential', id: credentialId },
      payload: { credentialId, integration: OAUTH_INTEGRATION, kind: 'oauth2', version: 1 },
    });
  });

  it('DELETE through the gateway answers 200 with the grant revoked at the provider', async () => {
    // The flow engine's view of the credential: a live access token at the provider.
    // It acts for Ada, a real member of her company: the vault's copy of auth's identity events has
    // her (auth, the vault and the ledger share one topic prefix in this suite).
    const resolved = await up.vault.resolve(
      credentialId,
      { tenantId: ada.tenantId, actingFor: { type: 'user', id: ada.userId } },
      resolveBody(OAUTH_SCOPE, { purpose: 'check the grant is revoked at the provider' }),
    );
    expect(resolved.status).toBe(200);
    const accessToken = resolved.json<{ secret: string }>().secret;
    secrets.add(accessToken);
    expect(await idpOf(up).introspect(accessToken)).toMatchObject({ active: true });

    const r = await send(`/v1/credentials/${credentialId}`, ada, { method: 'DELETE' });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ id: credentialId, status: 'revoked', providerRevocation: 'revoked' });
    expect(await idpOf(up).introspect(accessToken)).toMatchObject({ active: false });
    expect((await credentialsOf(ada)).find((c) => c.id === credentialId)).toMatchObject({ status: 'revoked' });
    const revoked = await eventually(
      async () => (await ledger('vault.credential.revoked')).find((e) => e.resource.id === credentialId),
      { timeoutMs: 60_000, what: 'vault.credential.revoked of the OAuth2 credential' },
    );
    expect(revoked.actor).toMatchObject({ type: 'user', id: ada.userId });
  });

  it('no token, code, state or client secret in any response, the gateway log or the vault log', () => {
    expect(secrets.size).toBeGreaterThanOrEqual(7);
    expect(states.size).toBeGreaterThanOrEqual(6);
    const all = bodies.join('\n');
    expect([...secrets].filter((s) => all.includes(s))).toEqual([]);
    // A state comes back only in the answer of the start that made it.
    const notStart = bodies.filter((b) => !b.includes('"authorizationUrl"')).join('\n');
    expect([...states].filter((s) => notStart.includes(s))).toEqual([]);
    const logs = gw.logText();
    // The gateway did log these requests (path only), and nothing of their query.
    expect(logs).toContain('/v1/credentials/oauth/callback');
    expect(logs).toContain(`/v1/credentials/oauth/${OAUTH_INTEGRATION}/start`);
    expect([...secrets, ...states].filter((s) => logs.includes(s))).toEqual([]);
    const vaultLogs = up.vault.logText();
    expect(vaultLogs).toContain('oauth callback refused');
    expect([...secrets, ...states].filter((s) => vaultLogs.includes(s))).toEqual([]);
  });
});
