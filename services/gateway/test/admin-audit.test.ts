// Every administrative action of the identity issue, performed through the real gateway, lands in
// the real ledger exactly once: audit-ingest consumes auth's topics (same prefix), and each action
// comes from its own client IP (X-Forwarded-For from a trusted proxy), so each ledger entry can be
// tied to the one request that caused it — type, actor, the IP the gateway saw, and the resource.
// Reading the audit log is itself an entry with the reader and their IP. The vault shares the
// prefix too, so credential create / rotate / revoke (topic flow8.vault.events.v1) are checked
// the same way, and a canary secret is searched for in every response and log line.
import {
  bearer,
  call,
  createCompany,
  eventually,
  login,
  must,
  randomId,
  randomIpv4,
  strongPassword,
  waitForQuiescence,
  type Company,
  type Session,
} from '@flow8/testkit';
import { NO_RATE_LIMITS, startGateway, startUpstreams, suiteKeys, TRUSTED_LOOPBACK } from './harness';

type Gw = Awaited<ReturnType<typeof startGateway>>;
type Up = Awaited<ReturnType<typeof startUpstreams>>;

interface LedgerItem {
  seq: number;
  eventId: string;
  type: string;
  actor: { type: string; id: string; ip?: string | null };
  resource: { type: string; id: string };
  payload: Record<string, unknown>;
}

/** One action's expected entry. `resourceId` may be a pattern when the client cannot know the id. */
interface Expected {
  action: string;
  type: string;
  ip: string;
  actor: { type: string; id: string };
  resource: { type: string; id: string | RegExp };
  payload?: Record<string, unknown>;
}

const keys = suiteKeys();
let up: Up;
let gw: Gw;
let company: Company;
let admin: Session;
const expected: Expected[] = [];
/** Secrets posted to the vault through the gateway: none may ever come back out. */
const canaries: string[] = [];
/** Every response body the suite received for a credential request. */
const credentialResponses: string[] = [];
const canary = () => {
  const c = `canary-${randomId()}-${randomId()}`;
  canaries.push(c);
  return c;
};
/** Polls come from their own address, so the reads they cause never pass for the reads under test. */
const pollIp = randomIpv4();
let pollHeaders: Record<string, string>;

/** A fresh client IP per action: 198.18.0.0/15, plus an IPv6 one, so both forms are checked. */
const used = new Set<string>([pollIp]);
function freshIp(): string {
  for (;;) {
    const ip = randomIpv4();
    if (!used.has(ip)) {
      used.add(ip);
      return ip;
    }
  }
}
const xff = (ip: string) => ({ 'x-forwarded-for': `203.0.113.250, ${ip}` });

beforeAll(async () => {
  up = await startUpstreams(keys, { sharedPrefix: true });
  gw = await startGateway(keys, up.urls, { ...TRUSTED_LOOPBACK, ...NO_RATE_LIMITS });

  // tenant created (and its first Admin) by the platform operator
  const ipT = freshIp();
  company = await createCompany(gw.url, keys.operatorToken, { headers: xff(ipT) });
  const op = { type: 'operator', id: 'operator' };
  expected.push(
    {
      action: 'tenant created',
      type: 'identity.tenant.created',
      ip: ipT,
      actor: op,
      resource: { type: 'tenant', id: company.tenantId },
    },
    {
      action: 'first admin created with the tenant',
      type: 'identity.user.created',
      ip: ipT,
      actor: op,
      resource: { type: 'user', id: company.admin.id },
    },
  );
  const adminActor = { type: 'user', id: company.admin.id };

  // failed logins: a wrong password for a real user, and an address nobody has
  const ipF = freshIp();
  const bad = await call(gw.url, '/v1/auth/login', {
    method: 'POST',
    headers: xff(ipF),
    body: { tenant: company.slug, email: company.admin.email, password: `${company.admin.password}x` },
  });
  expect(bad.status).toBe(401);
  expected.push({
    action: 'failed login (wrong password)',
    type: 'identity.login.failed',
    ip: ipF,
    actor: adminActor,
    resource: { type: 'user', id: company.admin.id },
    payload: { userId: company.admin.id, reason: 'bad_password' },
  });
  const ipF6 = '2001:db8:77::15';
  const unknown = await call(gw.url, '/v1/auth/login', {
    method: 'POST',
    headers: xff(ipF6),
    body: { tenant: company.slug, email: `nobody-${randomId().slice(0, 6)}@audit.test`, password: strongPassword() },
  });
  expect(unknown.status).toBe(401);
  expected.push({
    action: 'failed login (unknown address, IPv6 client)',
    type: 'identity.login.failed',
    ip: ipF6,
    actor: { type: 'system', id: 'anonymous' },
    resource: { type: 'tenant', id: company.tenantId },
    payload: { userId: null, reason: 'unknown_user' },
  });

  // login
  const ipL = freshIp();
  admin = await login(
    gw.url,
    { tenant: company.slug, email: company.admin.email, password: company.admin.password },
    xff(ipL),
  );
  expected.push({
    action: 'login',
    type: 'identity.login.succeeded',
    ip: ipL,
    actor: adminActor,
    resource: { type: 'session', id: /^ses_/ },
    payload: { userId: company.admin.id },
  });
  pollHeaders = { ...admin.headers, 'x-forwarded-for': pollIp };
  const as = (ip: string) => ({ ...admin.headers, ...xff(ip) });

  // user created, role changed
  const ipU = freshIp();
  const user = await must<{ id: string }>(gw.url, '/v1/users', {
    method: 'POST',
    headers: as(ipU),
    body: { email: `designer-${randomId().slice(0, 6)}@audit.test`, password: strongPassword(), role: 'flow_designer' },
  });
  expected.push({
    action: 'user created',
    type: 'identity.user.created',
    ip: ipU,
    actor: adminActor,
    resource: { type: 'user', id: user.id },
  });
  const ipR = freshIp();
  await must(gw.url, `/v1/users/${user.id}`, { method: 'PATCH', headers: as(ipR), body: { role: 'executor' } });
  expected.push({
    action: 'user changed (role)',
    type: 'identity.user.role_changed',
    ip: ipR,
    actor: adminActor,
    resource: { type: 'user', id: user.id },
    payload: { userId: user.id, oldRole: 'flow_designer', newRole: 'executor' },
  });

  // partition created, grant given and removed
  const ipP = freshIp();
  const partition = await must<{ id: string }>(gw.url, '/v1/partitions', {
    method: 'POST',
    headers: as(ipP),
    body: { name: `Litigation ${randomId().slice(0, 6)}` },
  });
  expected.push({
    action: 'partition created',
    type: 'identity.partition.created',
    ip: ipP,
    actor: adminActor,
    resource: { type: 'partition', id: partition.id },
  });
  const ipG = freshIp();
  const grant = await must<{ id: string }>(gw.url, '/v1/grants', {
    method: 'POST',
    headers: as(ipG),
    body: {
      principal: { type: 'user', id: user.id },
      resource: { type: 'partition', id: partition.id },
      actions: ['read'],
    },
  });
  expected.push({
    action: 'grant given',
    type: 'identity.grant.given',
    ip: ipG,
    actor: adminActor,
    resource: { type: 'grant', id: grant.id },
  });
  const ipGR = freshIp();
  await must(gw.url, `/v1/grants/${grant.id}`, { method: 'DELETE', headers: as(ipGR) });
  expected.push({
    action: 'grant removed',
    type: 'identity.grant.removed',
    ip: ipGR,
    actor: adminActor,
    resource: { type: 'grant', id: grant.id },
  });

  // api key created, rotated, revoked
  const ipK = freshIp();
  const key = await must<{ id: string; token: string }>(gw.url, '/v1/api-keys', {
    method: 'POST',
    headers: as(ipK),
    body: { name: 'provisioning', scopes: ['users:write', 'users:read'] },
  });
  expected.push({
    action: 'api key created',
    type: 'identity.api_key.created',
    ip: ipK,
    actor: adminActor,
    resource: { type: 'api_key', id: key.id },
  });
  const ipKR = freshIp();
  const rotated = await must<{ id: string; token: string }>(gw.url, `/v1/api-keys/${key.id}/rotate`, {
    method: 'POST',
    headers: as(ipKR),
    body: {},
  });
  expected.push({
    action: 'api key rotated',
    type: 'identity.api_key.rotated',
    ip: ipKR,
    actor: adminActor,
    resource: { type: 'api_key', id: rotated.id },
    payload: { previousKeyId: key.id },
  });

  // an action taken with an API key names the key as the actor
  const ipUK = freshIp();
  const byKey = await must<{ id: string }>(gw.url, '/v1/users', {
    method: 'POST',
    headers: { ...bearer(rotated.token), ...xff(ipUK) },
    body: { email: `viewer-${randomId().slice(0, 6)}@audit.test`, password: strongPassword(), role: 'viewer' },
  });
  expected.push({
    action: 'user created with an API key',
    type: 'identity.user.created',
    ip: ipUK,
    actor: { type: 'api_key', id: rotated.id },
    resource: { type: 'user', id: byKey.id },
  });

  const ipKV = freshIp();
  await must(gw.url, `/v1/api-keys/${rotated.id}`, { method: 'DELETE', headers: as(ipKV) });
  expected.push({
    action: 'api key revoked',
    type: 'identity.api_key.revoked',
    ip: ipKV,
    actor: adminActor,
    resource: { type: 'api_key', id: rotated.id },
  });

  // user removed
  const ipUD = freshIp();
  await must(gw.url, `/v1/users/${user.id}`, { method: 'DELETE', headers: as(ipUD) });
  expected.push({
    action: 'user removed',
    type: 'identity.user.removed',
    ip: ipUD,
    actor: adminActor,
    resource: { type: 'user', id: user.id },
  });

  // credential created, rotated, revoked (credential-vault, through the gateway)
  const ipC = freshIp();
  const created = await call(gw.url, '/v1/credentials', {
    method: 'POST',
    headers: as(ipC),
    body: {
      integration: 'quickbooks',
      name: 'Ledger sync',
      kind: 'token',
      scopes: ['invoices:read'],
      secret: canary(),
    },
  });
  credentialResponses.push(created.body);
  expect(created.status).toBe(201);
  const credentialId = created.json<{ id: string }>().id;
  expected.push({
    action: 'credential created',
    type: 'vault.credential.created',
    ip: ipC,
    actor: adminActor,
    resource: { type: 'credential', id: credentialId },
    payload: { credentialId, integration: 'quickbooks', kind: 'token', version: 1 },
  });
  const ipCR = freshIp();
  const rotatedCredential = await call(gw.url, `/v1/credentials/${credentialId}/rotate`, {
    method: 'POST',
    headers: as(ipCR),
    body: { secret: canary() },
  });
  credentialResponses.push(rotatedCredential.body);
  expect(rotatedCredential.status).toBe(200);
  expected.push({
    action: 'credential rotated',
    type: 'vault.credential.rotated',
    ip: ipCR,
    actor: adminActor,
    resource: { type: 'credential', id: credentialId },
    payload: { credentialId, version: 2, previousVersion: 1 },
  });
  for (const path of [`/v1/credentials/${credentialId}`, '/v1/credentials?limit=200']) {
    const r = await call(gw.url, path, { headers: as(freshIp()) });
    expect(r.status).toBe(200);
    credentialResponses.push(r.body);
  }
  const ipCV = freshIp();
  const revoked = await call(gw.url, `/v1/credentials/${credentialId}`, { method: 'DELETE', headers: as(ipCV) });
  credentialResponses.push(revoked.body);
  expect(revoked.status).toBe(204);
  expected.push({
    action: 'credential revoked',
    type: 'vault.credential.revoked',
    ip: ipCV,
    actor: adminActor,
    resource: { type: 'credential', id: credentialId },
    payload: { credentialId, version: 2 },
  });
  // Refused requests carrying a secret: a scope outside the catalogue (the vault's 400), a
  // rotation of the revoked credential (409), and a body the gateway's schema refuses (400).
  for (const [path, body] of [
    ['/v1/credentials', { integration: 'slack', name: 'bad', kind: 'token', scopes: ['admin:all'], secret: canary() }],
    [`/v1/credentials/${credentialId}/rotate`, { secret: canary() }],
    ['/v1/credentials', { integration: 'slack', name: 'bad', kind: 'token', scopes: [], secret: canary(), x: 1 }],
  ] as const) {
    const r = await call(gw.url, path, { method: 'POST', headers: as(freshIp()), body });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    credentialResponses.push(r.body);
  }

  // allowlist changed: to the ranges this suite's clients use, so the suite still gets in
  const ipA = freshIp();
  const cidrs = ['198.18.0.0/15', '2001:db8:77::/48'];
  await must(gw.url, '/v1/settings/ip-allowlist', { method: 'PUT', headers: as(ipA), body: { cidrs } });
  expected.push({
    action: 'allowlist changed',
    type: 'identity.allowlist.changed',
    ip: ipA,
    actor: adminActor,
    resource: { type: 'ip_allowlist', id: company.tenantId },
    payload: { count: 2, cidrs },
  });

  // logout, with a second session so the Admin's own session stays for the reads
  const ipO = freshIp();
  const second = await login(
    gw.url,
    { tenant: company.slug, email: company.admin.email, password: company.admin.password },
    xff(ipO),
  );
  expected.push({
    action: 'login (second session)',
    type: 'identity.login.succeeded',
    ip: ipO,
    actor: adminActor,
    resource: { type: 'session', id: /^ses_/ },
  });
  const out = await call(gw.url, '/v1/auth/logout', { method: 'POST', headers: { ...second.headers, ...xff(ipO) } });
  expect(out.status).toBe(204);
  expected.push({
    action: 'logout',
    type: 'identity.session.ended',
    ip: ipO,
    actor: adminActor,
    resource: { type: 'session', id: /^ses_/ },
    payload: { userId: company.admin.id, reason: 'logout' },
  });
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await up?.stop();
});

async function ledger(query: string): Promise<LedgerItem[]> {
  const r = await call(gw.url, `/v1/audit/events?limit=500&${query}`, { headers: pollHeaders });
  if (r.status !== 200) throw new Error(`audit query answered ${r.status}: ${r.body}`);
  return r.json<{ items: LedgerItem[] }>().items;
}

/** The entries of `type` caused by the request from `ip`, once the ledger has at least one. */
async function entriesFrom(type: string, ip: string): Promise<LedgerItem[]> {
  return eventually(
    async () => {
      const found = (await ledger(`type=${encodeURIComponent(type)}`)).filter((e) => e.actor.ip === ip);
      return found.length > 0 ? found : undefined;
    },
    { timeoutMs: 60_000, what: `${type} from ${ip}` },
  );
}

describe('each admin action through the gateway is one ledger entry with actor, client IP and resource', () => {
  // The table is filled in beforeAll; jest needs the names now, so the cases are indexed.
  const ACTIONS = [
    'tenant created',
    'first admin created with the tenant',
    'failed login (wrong password)',
    'failed login (unknown address, IPv6 client)',
    'login',
    'user created',
    'user changed (role)',
    'partition created',
    'grant given',
    'grant removed',
    'api key created',
    'api key rotated',
    'user created with an API key',
    'api key revoked',
    'user removed',
    'credential created',
    'credential rotated',
    'credential revoked',
    'allowlist changed',
    'login (second session)',
    'logout',
  ];

  it('performed every action the table names', () => {
    expect(expected.map((e) => e.action)).toEqual(ACTIONS);
  });

  test.each(ACTIONS.map((a) => [a]))('%s', async (action) => {
    const e = expected.find((x) => x.action === action)!;
    const found = await entriesFrom(e.type, e.ip);
    expect(found).toHaveLength(1);
    const entry = found[0]!;
    expect(entry).toMatchObject({
      type: e.type,
      actor: { ...e.actor, ip: e.ip },
      resource: {
        type: e.resource.type,
        id: e.resource.id instanceof RegExp ? expect.stringMatching(e.resource.id) : e.resource.id,
      },
      ...(e.payload ? { payload: e.payload } : {}),
    });
  });

  it('the logout ended the session that the second login opened', async () => {
    const ip = expected.find((x) => x.action === 'logout')!.ip;
    const [opened] = await entriesFrom('identity.login.succeeded', ip);
    const [ended] = await entriesFrom('identity.session.ended', ip);
    expect(ended!.resource.id).toBe(opened!.resource.id);
  });

  it('no action produced a second entry: per type, the ledger holds exactly the entries of the table', async () => {
    // Every outbox published and the ledger's group caught up: a duplicate would be in the ledger now.
    await waitForQuiescence({
      pools: [up.auth.db.admin, up.vault.db.admin, up.audit.db.admin],
      groups: [up.audit.ledgerGroup],
    });
    const types = [...new Set(expected.map((e) => e.type))];
    for (const type of types) {
      const all = await ledger(`type=${encodeURIComponent(type)}`);
      const want = expected
        .filter((e) => e.type === type)
        .map((e) => e.ip)
        .sort();
      expect({ type, ips: all.map((x) => x.actor.ip).sort() }).toEqual({ type, ips: want });
      // …and every entry is unique by event id.
      expect(new Set(all.map((x) => x.eventId)).size).toBe(all.length);
    }
  });
});

describe('a credential secret posted through the gateway never comes back out', () => {
  it('is in no response (created, rotated, read, listed, refused) and no gateway log line', async () => {
    expect(canaries).toHaveLength(5);
    expect(credentialResponses.length).toBeGreaterThanOrEqual(7);
    const responses = credentialResponses.join('\n');
    expect(canaries.filter((c) => responses.includes(c))).toEqual([]);
    // The gateway logged these requests (at trace), yet without their bodies' secrets.
    const logs = gw.logText();
    expect(logs).toContain('/v1/credentials');
    expect(canaries.filter((c) => logs.includes(c))).toEqual([]);
  });

  it('is in no ledger entry or export read through the gateway', async () => {
    await entriesFrom('vault.credential.revoked', expected.find((e) => e.action === 'credential revoked')!.ip);
    const bodies = await Promise.all(
      ['/v1/audit/events?limit=500', '/v1/audit/export?format=ndjson', '/v1/audit/export?format=csv'].map(
        async (path) => (await call(gw.url, path, { headers: pollHeaders })).body,
      ),
    );
    const text = bodies.join('\n');
    expect(text).toContain('vault.credential.created');
    const decoded = [...text.matchAll(/"canonical":"([A-Za-z0-9+/=]+)"/g)]
      .map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'))
      .join('\n');
    expect(canaries.filter((c) => text.includes(c) || decoded.includes(c))).toEqual([]);
  });
});

describe('reading the audit log through the gateway is itself audited', () => {
  it.each([
    ['events', '/v1/audit/events?type=identity.user.created', 'audit.log.queried'],
    ['export', '/v1/audit/export?format=ndjson', 'audit.log.exported'],
    ['verify', '/v1/audit/verify', 'audit.chain.verified'],
    ['checkpoints', '/v1/audit/checkpoints', 'audit.checkpoints.read'],
  ])('%s: one entry with the reader and the IP the gateway saw', async (_name, path, type) => {
    const ip = freshIp();
    const r = await call(gw.url, path, { headers: { ...admin.headers, ...xff(ip) } });
    expect(r.status).toBe(200);
    const found = await entriesFrom(type, ip);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      type,
      actor: { type: 'user', id: company.admin.id, ip },
      resource: { type: 'audit_log', id: company.tenantId },
    });
  });

  it('an API key reading it is recorded as the key', async () => {
    const key = await must<{ id: string; token: string }>(gw.url, '/v1/api-keys', {
      method: 'POST',
      headers: { ...admin.headers, ...xff(freshIp()) },
      body: { name: 'siem export', scopes: ['audit:read'] },
    });
    const ip = freshIp();
    const r = await call(gw.url, '/v1/audit/verify', { headers: { ...bearer(key.token), ...xff(ip) } });
    expect(r.status).toBe(200);
    const found = await entriesFrom('audit.chain.verified', ip);
    expect(found).toHaveLength(1);
    expect(found[0]!.actor).toEqual({ type: 'api_key', id: key.id, ip });
  });
});

describe('verification while the ledger grows', () => {
  it('stays ok: entries appended during a verification are no false alarm', async () => {
    // Every read below is itself an entry, ingested while the next verifications run.
    const results: Array<{ ok: boolean; reason?: string }> = [];
    for (let round = 0; round < 25; round += 1) {
      const batch = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          call(gw.url, i % 2 === 0 ? '/v1/audit/verify' : '/v1/audit/events?limit=1', {
            headers: { ...admin.headers, ...xff(freshIp()) },
          }),
        ),
      );
      for (const [i, r] of batch.entries()) {
        expect(r.status).toBe(200);
        if (i % 2 === 0) results.push(r.json<{ ok: boolean; reason?: string }>());
      }
    }
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results).toHaveLength(150);
  });
});
