// Integration grants end to end: the Admin gives and removes grants through the gateway (auth
// stores them and publishes identity events); the credential vault's copy of the grants follows
// over Kafka; the Flow Designer's own requests through the gateway are narrowed accordingly — on
// attach, list, get, rotate and revoke — and an API key of hers is bound the same way.
import {
  addMember,
  bearer,
  call,
  companyWithAdmin,
  eventually,
  must,
  randomId,
  type Res,
  type Session,
} from '@flow8/testkit';
import { NO_RATE_LIMITS, startGateway, startUpstreams, suiteKeys } from './harness';

type Gw = Awaited<ReturnType<typeof startGateway>>;
type Up = Awaited<ReturnType<typeof startUpstreams>>;

const keys = suiteKeys();
let up: Up;
let gw: Gw;
let admin: Session;
let designer: Session;

const credentialBody = (integration: string, scopes: string[]) => ({
  integration,
  name: `${integration} ${randomId().slice(0, 6)}`,
  kind: 'api_key',
  scopes,
  secret: `grants-e2e-${randomId()}`,
});
const SLACK = ['slack', ['chat:write']] as const;
const SALESFORCE = ['salesforce', ['records:read']] as const;

const attach = (headers: Record<string, string>, [integration, scopes]: readonly [string, readonly string[]]) =>
  call(gw.url, '/v1/credentials', { method: 'POST', headers, body: credentialBody(integration, [...scopes]) });

const integrationsSeenBy = async (headers: Record<string, string>): Promise<string[]> => {
  const r = await call(gw.url, '/v1/credentials?limit=200', { headers });
  expect(r.status).toBe(200);
  return [...new Set(r.json<{ items: Array<{ integration: string }> }>().items.map((c) => c.integration))].sort();
};

/** The vault learns grants over Kafka: wait until the answer changes (bounded), then assert it. */
async function settlesTo(what: string, probe: () => Promise<Res>, status: number): Promise<Res> {
  return eventually(
    async () => {
      const r = await probe();
      return r.status === status ? r : undefined;
    },
    { what, timeoutMs: 20_000 },
  );
}

beforeAll(async () => {
  up = await startUpstreams(keys, { sharedPrefix: true });
  gw = await startGateway(keys, up.urls, NO_RATE_LIMITS);
  const signedIn = await companyWithAdmin(gw.url, keys.operatorToken);
  admin = signedIn.admin;
  designer = (
    await addMember(gw.url, admin, {
      tenant: signedIn.company.slug,
      role: 'flow_designer',
      tag: 'designer',
      domain: 'grants.test',
    })
  ).session;
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await up?.stop();
});

describe('an Admin narrows a Flow Designer to Salesforce through the gateway', () => {
  let grantId = '';
  let slackId = '';
  let salesforceId = '';

  it('before any grant the designer manages every integration (the role decides)', async () => {
    const slack = await attach(designer.headers, SLACK);
    expect(slack.status).toBe(201);
    slackId = slack.json<{ id: string }>().id;
    expect(await integrationsSeenBy(designer.headers)).toEqual(['slack']);
  });

  it('after the grant: Salesforce only — attach, see, rotate, revoke — and the refusal says why', async () => {
    const g = await must<{ id: string }>(gw.url, '/v1/grants', {
      method: 'POST',
      headers: admin.headers,
      body: {
        principal: { type: 'user', id: designer.userId },
        resource: { type: 'integration', id: 'salesforce' },
        actions: ['read', 'write'],
      },
    });
    grantId = g.id;
    const refused = await settlesTo('the grant applied by the vault', () => attach(designer.headers, SLACK), 403);
    expect(refused.json<{ error: { details?: { reason?: string } } }>().error.details?.reason).toContain(
      'slack is not granted',
    );
    const sf = await attach(designer.headers, SALESFORCE);
    expect(sf.status).toBe(201);
    salesforceId = sf.json<{ id: string }>().id;

    expect(await integrationsSeenBy(designer.headers)).toEqual(['salesforce']);
    expect((await call(gw.url, `/v1/credentials/${slackId}`, { headers: designer.headers })).status).toBe(404);
    const rotate = await call(gw.url, `/v1/credentials/${slackId}/rotate`, {
      method: 'POST',
      headers: designer.headers,
      body: { secret: 'new-secret-value' },
    });
    expect(rotate.status).toBe(403);
    expect(
      (await call(gw.url, `/v1/credentials/${slackId}`, { method: 'DELETE', headers: designer.headers })).status,
    ).toBe(403);
    // The Admin still sees and manages everything.
    expect(await integrationsSeenBy(admin.headers)).toEqual(['salesforce', 'slack']);
    const slackNow = await call(gw.url, `/v1/credentials/${slackId}`, { headers: admin.headers });
    expect(slackNow.json<{ status: string; version: number }>()).toMatchObject({ status: 'active', version: 1 });
  });

  it("an API key of the designer's is bound by her grant too", async () => {
    const key = await must<{ token: string }>(gw.url, '/v1/api-keys', {
      method: 'POST',
      headers: designer.headers,
      body: { name: 'ci', scopes: ['credentials:read', 'credentials:write'] },
    });
    const asKey = bearer(key.token);
    expect((await attach(asKey, SLACK)).status).toBe(403);
    expect((await attach(asKey, SALESFORCE)).status).toBe(201);
    expect(await integrationsSeenBy(asKey)).toEqual(['salesforce']);
  });

  it('once the Admin removes the grant, the role decides again', async () => {
    await must(gw.url, `/v1/grants/${grantId}`, { method: 'DELETE', headers: admin.headers });
    await settlesTo('the removal applied by the vault', () => attach(designer.headers, SLACK), 201);
    expect(await integrationsSeenBy(designer.headers)).toEqual(['salesforce', 'slack']);
    expect((await call(gw.url, `/v1/credentials/${salesforceId}`, { headers: designer.headers })).status).toBe(200);
  });
});
