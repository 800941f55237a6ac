// Integration-level grants in the vault, from its replicated copy of auth's grants: grant events
// are published on the real identity topic (as auth's relay publishes them), the vault's copy
// consumes them, and every decision — attach, see, rotate, revoke, and the flow engine's use —
// follows them. Grants narrow a role to the granted integrations and never widen an Admin-only
// action; a removed grant stops counting; a copy still catching up refuses instead of guessing.
import { createPublisher, type Publisher } from '@flow8/bus';
import { buildEvent, eventsTopic, newId, type EventType, type GrantGivenPayload } from '@flow8/contracts';
import { eventually, resolveBody, testKafka, uniqueTopicPrefix } from '@flow8/testkit';
import { admin, designer, newTenant, startVault, vaultEvents, type Principal, type VaultHarness } from './harness';

let v: VaultHarness;
let publisher: Publisher;

beforeAll(async () => {
  v = await startVault();
  publisher = createPublisher(testKafka('grants-test'));
});

afterAll(async () => {
  await publisher?.disconnect();
  await v?.stop();
  await v?.db.drop();
});

type GrantInput = { principal: { type: 'user' | 'api_key'; id: string }; integration: string; actions: string[] };

/** Publishes identity.grant.given / removed on the identity topic, keyed by tenant like auth's relay. */
async function publishGrant(
  prefix: string,
  type: Extract<EventType, 'identity.grant.given' | 'identity.grant.removed'>,
  tenantId: string,
  grantId: string,
  g: GrantInput,
): Promise<void> {
  const event = buildEvent({
    type,
    tenantId,
    actor: { type: 'user', id: newId('usr'), ip: '203.0.113.9' },
    resource: { type: 'grant', id: grantId },
    payload: {
      grantId,
      principal: g.principal,
      resource: { type: 'integration', id: g.integration },
      actions: g.actions as GrantGivenPayload['actions'],
    },
  });
  await publisher.publish([
    {
      topic: eventsTopic('identity', prefix),
      key: tenantId,
      value: Buffer.from(JSON.stringify(event)),
      headers: { 'content-type': 'application/json', 'flow8-event-type': type, 'flow8-event-id': event.id },
    },
  ]);
}

/** Waits until the vault's copy holds this grant in this state. */
async function replicated(tenantId: string, grantId: string, removed: boolean): Promise<void> {
  await eventually(
    async () => {
      const r = await v.db.admin.query<{ removed: boolean }>(
        'SELECT removed FROM grant_replica WHERE tenant_id = $1 AND grant_id = $2',
        [tenantId, grantId],
      );
      return r.rows[0]?.removed === removed ? true : undefined;
    },
    { what: `grant ${grantId} replicated (removed=${removed})`, timeoutMs: 20_000 },
  );
}

async function give(tenantId: string, g: GrantInput): Promise<string> {
  const grantId = newId('grt');
  await publishGrant(v.prefix, 'identity.grant.given', tenantId, grantId, g);
  await replicated(tenantId, grantId, false);
  return grantId;
}

async function remove(tenantId: string, grantId: string, g: GrantInput): Promise<void> {
  await publishGrant(v.prefix, 'identity.grant.removed', tenantId, grantId, g);
  await replicated(tenantId, grantId, true);
}

const body = (integration: string, scopes: string[]) => ({
  integration,
  name: `${integration} for grants`,
  kind: 'api_key',
  scopes,
  secret: `grant-test-secret-${newId('crd')}`,
});

async function createAs(p: Principal, integration: string, scopes: string[]) {
  return v.call('POST', '/v1/credentials', { principal: p, body: body(integration, scopes) });
}

describe('integration grants narrow who may attach and see credentials', () => {
  it('a designer granted Salesforce only attaches and sees Salesforce, and nothing else', async () => {
    const t = newTenant();
    const boss = admin(t);
    const slack = (await createAs(boss, 'slack', ['chat:write'])).json<{ id: string }>();
    const sf = (await createAs(boss, 'salesforce', ['records:read'])).json<{ id: string }>();
    const d = designer(t);
    // Before any grant: the role alone (Flow Designer) manages every integration.
    expect((await createAs(d, 'slack', ['chat:write'])).status).toBe(201);

    const g = { principal: { type: 'user' as const, id: d.id }, integration: 'salesforce', actions: ['read', 'write'] };
    await give(t, g);

    const refused = await createAs(d, 'slack', ['chat:write']);
    expect(refused.status).toBe(403);
    expect(refused.json<{ error: { details?: { reason?: string } } }>().error.details?.reason).toMatch(
      /restrict .* to \[salesforce\]; slack is not granted/,
    );
    expect((await createAs(d, 'salesforce', ['records:read'])).status).toBe(201);

    const listed = (await v.call('GET', '/v1/credentials?limit=100', { principal: d })).json<{
      items: Array<{ integration: string }>;
    }>();
    expect(new Set(listed.items.map((c) => c.integration))).toEqual(new Set(['salesforce']));
    expect((await v.call('GET', `/v1/credentials/${slack.id}`, { principal: d })).status).toBe(404);
    expect((await v.call('GET', `/v1/credentials/${sf.id}`, { principal: d })).status).toBe(200);
    expect(
      (await v.call('POST', `/v1/credentials/${slack.id}/rotate`, { principal: d, body: { secret: 'x-new' } })).status,
    ).toBe(403);
    expect((await v.call('DELETE', `/v1/credentials/${slack.id}`, { principal: d })).status).toBe(403);
    expect(
      (await v.call('GET', `/v1/credentials/${slack.id}`, { principal: boss })).json<{ status: string }>().status,
    ).toBe('active');
    // The Admin is never narrowed; another designer of the company has no grant and is not narrowed.
    expect((await createAs(boss, 'slack', ['chat:write'])).status).toBe(201);
    expect((await createAs(designer(t), 'slack', ['chat:write'])).status).toBe(201);
  });

  it('a read-only grant lets the designer see but not attach or rotate', async () => {
    const t = newTenant();
    const d = designer(t);
    const c = (await createAs(admin(t), 'clio', ['matters:read'])).json<{ id: string }>();
    await give(t, { principal: { type: 'user', id: d.id }, integration: 'clio', actions: ['read'] });
    expect((await v.call('GET', `/v1/credentials/${c.id}`, { principal: d })).status).toBe(200);
    expect((await createAs(d, 'clio', ['matters:read'])).status).toBe(403);
    expect(
      (await v.call('POST', `/v1/credentials/${c.id}/rotate`, { principal: d, body: { secret: 'x-new' } })).status,
    ).toBe(403);
  });

  it("an API key is bound by its owner's grants and by its own", async () => {
    const t = newTenant();
    const owner = designer(t);
    const key = (id = newId('key')): Principal => ({
      tenantId: t,
      id,
      type: 'api_key',
      role: 'flow_designer',
      scopes: ['credentials:read', 'credentials:write'],
      ownerId: owner.id,
    });
    const k = key();
    await give(t, { principal: { type: 'user', id: owner.id }, integration: 'quickbooks', actions: ['write'] });
    expect((await createAs(k, 'slack', ['chat:write'])).status).toBe(403);
    expect((await createAs(k, 'quickbooks', ['invoices:read'])).status).toBe(201);
    // The key's own grant narrows it further (never past its owner).
    const narrow = key();
    await give(t, { principal: { type: 'api_key', id: narrow.id }, integration: 'slack', actions: ['write'] });
    expect((await createAs(narrow, 'quickbooks', ['invoices:read'])).status).toBe(403);
    expect((await createAs(narrow, 'slack', ['chat:write'])).status).toBe(403); // the owner is not granted slack
  });

  it('a removed grant stops narrowing, and a replayed "given" never revives it', async () => {
    const t = newTenant();
    const d = designer(t);
    const g = { principal: { type: 'user' as const, id: d.id }, integration: 'salesforce', actions: ['write'] };
    const grantId = await give(t, g);
    expect((await createAs(d, 'slack', ['chat:write'])).status).toBe(403);
    await remove(t, grantId, g);
    expect((await createAs(d, 'slack', ['chat:write'])).status).toBe(201);
    // Redelivery after a rebalance: the "given" arrives again after the removal. A later grant of
    // the same company (same partition, so applied after it) tells us the replay was consumed.
    await publishGrant(v.prefix, 'identity.grant.given', t, grantId, g);
    await give(t, { principal: { type: 'user', id: newId('usr') }, integration: 'slack', actions: ['read'] });
    const row = await v.db.admin.query('SELECT removed FROM grant_replica WHERE tenant_id = $1 AND grant_id = $2', [
      t,
      grantId,
    ]);
    expect(row.rows).toEqual([{ removed: true }]);
    expect((await createAs(d, 'slack', ['chat:write'])).status).toBe(201);
  });

  it("grants of one company never affect another company's principals", async () => {
    const [a, b] = [newTenant(), newTenant()];
    const d = designer(b);
    // A grant published under company A that names B's designer (as a forged or misrouted event would).
    await give(a, { principal: { type: 'user', id: d.id }, integration: 'salesforce', actions: ['write'] });
    expect((await createAs(d, 'slack', ['chat:write'])).status).toBe(201);
  });
});

describe('the flow engine uses a credential only for a principal allowed to use its integration', () => {
  it('refuses, and audits the refusal with the reason, when the run is for someone not granted the integration', async () => {
    const t = newTenant();
    const c = (await createAs(admin(t), 'quickbooks', ['invoices:read'])).json<{ id: string }>();
    const actingFor = await v.members.user(t, 'executor');
    const runner = actingFor.id;
    expect((await v.resolve(c.id, { tenantId: t, actingFor }, resolveBody('invoices:read'))).status).toBe(200);

    const g = { principal: { type: 'user' as const, id: runner }, integration: 'slack', actions: ['use'] };
    const grantId = await give(t, g);
    const refused = await v.resolve(c.id, { tenantId: t, actingFor }, resolveBody('invoices:read'));
    expect(refused.status).toBe(403);
    expect(refused.body).not.toContain('grant-test-secret');
    expect(refused.json<{ error: { details?: { reason?: string } } }>().error.details?.reason).toBe('not_permitted');

    // A Viewer has no integrations:use by role; a grant of use on the integration extends it.
    const viewer = await v.members.user(t, 'viewer');
    expect((await v.resolve(c.id, { tenantId: t, actingFor: viewer }, resolveBody('invoices:read'))).status).toBe(403);
    await give(t, { principal: { type: 'user', id: viewer.id }, integration: 'quickbooks', actions: ['use'] });
    expect((await v.resolve(c.id, { tenantId: t, actingFor: viewer }, resolveBody('invoices:read'))).status).toBe(200);

    await remove(t, grantId, g);
    expect((await v.resolve(c.id, { tenantId: t, actingFor }, resolveBody('invoices:read'))).status).toBe(200);

    const { events } = await eventually(
      async () => {
        const r = await vaultEvents(v.prefix);
        const mine = r.events.filter((e) => e.resource.id === c.id && e.type.startsWith('vault.credential.use'));
        return mine.length >= 5 ? { events: mine } : undefined;
      },
      { what: 'five use events of the credential', timeoutMs: 30_000 },
    );
    expect(events.map((e) => `${e.type}:${String(e.payload.reason ?? '')}`)).toEqual([
      'vault.credential.used:',
      'vault.credential.use_refused:not_permitted',
      'vault.credential.use_refused:not_permitted',
      'vault.credential.used:',
      'vault.credential.used:',
    ]);
    const refusal = events[1]!;
    expect(refusal.payload.actingFor).toEqual({ type: 'user', id: runner });
    expect(refusal.payload.detail).toContain(grantId);
    expect(events[0]!.payload.actingFor).toEqual({ type: 'user', id: runner });
  });

  it('refuses, and audits, a resolve whose signed call names nobody to act for', async () => {
    const t = newTenant();
    const c = (await createAs(admin(t), 'quickbooks', ['invoices:read'])).json<{ id: string }>();
    const res = await v.resolve(c.id, { tenantId: t, actingFor: null }, resolveBody('invoices:read'));
    expect(res.status).toBe(403);
    expect(res.body).not.toContain('grant-test-secret');
    const refusal = await eventually(async () =>
      (await vaultEvents(v.prefix)).events.find(
        (e) => e.resource.id === c.id && e.type === 'vault.credential.use_refused',
      ),
    );
    expect(refusal.payload).toMatchObject({
      reason: 'not_permitted',
      detail: 'the call names no principal to act for',
    });
  });
});

describe('a vault whose copy of the grants is not complete yet', () => {
  it('applies every grant given before it started before it decides, and reports ready only then', async () => {
    const t = newTenant();
    const d = designer(t);
    const first = await startVault({ prefix: uniqueTopicPrefix() });
    await first.stop();
    try {
      // A grant given while no vault of this deployment runs (its topic exists: the vault made it).
      const g = { principal: { type: 'user' as const, id: d.id }, integration: 'salesforce', actions: ['write'] };
      await publishGrant(first.prefix, 'identity.grant.given', t, newId('grt'), g);
      // The deployment comes back (same database, key and consumer group): it must not decide
      // from a copy that lacks the grant — either it is still catching up (503) or it has it (403).
      const again = await startVault({
        db: first.db,
        prefix: first.prefix,
        seed: first.seed,
        serviceSeeds: first.serviceSeeds,
        overrides: first.env,
      });
      try {
        const early = await again.call('POST', '/v1/credentials', {
          principal: d,
          body: body('slack', ['chat:write']),
        });
        expect([403, 503]).toContain(early.status);
        await eventually(async () => ((await again.call('GET', '/readyz')).status === 200 ? true : undefined), {
          what: 'the vault ready',
          timeoutMs: 30_000,
        });
        const late = await again.call('POST', '/v1/credentials', { principal: d, body: body('slack', ['chat:write']) });
        expect(late.status).toBe(403);
        expect(
          (await again.call('POST', '/v1/credentials', { principal: d, body: body('salesforce', ['records:read']) }))
            .status,
        ).toBe(201);
      } finally {
        await again.stop();
      }
    } finally {
      await first.db.drop();
    }
  });
});
