// Credentials through the real stack: HTTPS with client certificates, identity tokens as the
// gateway mints them, Postgres with row-level security, the outbox and Kafka.
import { randomBytes } from 'node:crypto';
import { eventually, resolveBody } from '@flow8/testkit';
import {
  admin,
  designer,
  newTenant,
  startVault,
  vaultEvents,
  type Principal,
  type VaultEvent,
  type VaultHarness,
} from './harness';

let v: VaultHarness;
const tag = randomBytes(4).toString('hex');

beforeAll(async () => {
  v = await startVault();
});

afterAll(async () => {
  await v?.stop();
  await v?.db.drop();
});

interface View {
  id: string;
  integration: string;
  scopes: string[];
  status: string;
  version: number;
}

async function create(p: Principal, body: Record<string, unknown>): Promise<View> {
  const res = await v.call('POST', '/v1/credentials', { principal: p, body });
  expect(res.status).toBe(201);
  return res.json<View>();
}

const qbBody = (secret: string, scopes = ['invoices:read']) => ({
  integration: 'quickbooks',
  name: 'QuickBooks production',
  kind: 'api_key',
  scopes,
  secret,
});

describe('create, list, get: metadata only', () => {
  it('seals the secret on entry and never returns it', async () => {
    const t = newTenant();
    const secret = `qb-secret-${tag}-1`;
    const c = await create(designer(t), qbBody(secret));
    expect(c).toMatchObject({ integration: 'quickbooks', status: 'active', version: 1, scopes: ['invoices:read'] });
    expect(JSON.stringify(c)).not.toContain(secret);
    const list = await v.call('GET', '/v1/credentials', { principal: admin(t) });
    expect(list.status).toBe(200);
    expect(list.body).not.toContain(secret);
    expect(list.json<{ items: View[] }>().items.map((i) => i.id)).toEqual([c.id]);
    const one = await v.call('GET', `/v1/credentials/${c.id}`, { principal: admin(t) });
    expect(one.status).toBe(200);
    expect(one.body).not.toContain(secret);
    // In the database: ciphertext only (version byte 1, then the data key id).
    const row = await v.db.admin.query<{ ciphertext: Buffer; data_key_id: string }>(
      'SELECT ciphertext, data_key_id FROM credential_versions WHERE credential_id = $1',
      [c.id],
    );
    expect(row.rows[0]!.ciphertext.includes(Buffer.from(secret))).toBe(false);
    expect(row.rows[0]!.ciphertext[0]).toBe(1);
    expect(row.rows[0]!.ciphertext.subarray(1, 17).toString('hex')).toBe(row.rows[0]!.data_key_id);
  });

  it('refuses scopes outside the integration catalogue', async () => {
    const t = newTenant();
    const res = await v.call('POST', '/v1/credentials', {
      principal: designer(t),
      body: { ...qbBody('x'), integration: 'salesforce', scopes: ['invoices:read'] },
    });
    expect(res.status).toBe(400);
    expect(res.body).toContain('invoices:read');
  });

  it.each([
    ['admin', 201],
    ['flow_designer', 201],
    ['executor', 403],
    ['viewer', 403],
  ] as const)('role %s creating a credential → %i', async (role, status) => {
    const t = newTenant();
    const res = await v.call('POST', '/v1/credentials', {
      principal: { tenantId: t, id: `usr_${'0'.repeat(26)}`, role },
      body: qbBody(`role-${role}-${tag}`),
    });
    expect(res.status).toBe(status);
  });

  it.each([
    ['admin', 202],
    ['flow_designer', 403],
    ['executor', 403],
    ['viewer', 403],
  ] as const)('role %s rotating the company data key → %i', async (role, status) => {
    const res = await v.call('POST', '/v1/keys/rotate', {
      principal: { tenantId: newTenant(), id: `usr_${'1'.repeat(26)}`, role },
    });
    expect(res.status).toBe(status);
  });

  it('refuses a request without the gateway certificate or without an identity token', async () => {
    const t = newTenant();
    expect((await v.call('GET', '/v1/credentials', { principal: admin(t), cert: 'testkit' })).status).toBe(403);
    // Without a client certificate the TLS handshake itself is refused.
    await expect(v.call('GET', '/v1/credentials', { principal: admin(t), cert: null })).rejects.toThrow(
      /certificate required/,
    );
    expect((await v.call('GET', '/v1/credentials', {})).status).toBe(401);
  });
});

describe('resolve (flow engine only)', () => {
  it('returns the secret to the flow engine within scope, and refuses every other caller', async () => {
    const t = newTenant();
    const secret = `sf-secret-${tag}`;
    const c = await create(designer(t), { ...qbBody(secret, ['records:read']), integration: 'salesforce' });
    const ok = await v.resolve(c.id, { tenantId: t }, resolveBody('records:read'));
    expect(ok.status).toBe(200);
    expect(ok.json()).toEqual({ credentialId: c.id, version: 1, integration: 'salesforce', secret });
    for (const cert of ['gateway', 'testkit', 'operator', 'auth']) {
      const res = await v.resolve(c.id, { tenantId: t, cert }, resolveBody('records:read'));
      expect(res.status).toBe(403);
      expect(res.body).not.toContain(secret);
    }
    await expect(v.resolve(c.id, { tenantId: t, cert: null }, resolveBody('records:read'))).rejects.toThrow(
      /certificate required/,
    );
  });

  it('enforces scopes: read-only cannot write; Drive one folder cannot read everything', async () => {
    const t = newTenant();
    const sf = await create(designer(t), { ...qbBody(`s-${tag}`, ['records:read']), integration: 'salesforce' });
    const denied = await v.resolve(sf.id, { tenantId: t }, resolveBody('records:write'));
    expect(denied.status).toBe(403);
    expect(denied.json<{ error: { details: { reason: string } } }>().error.details.reason).toBe('scope_not_granted');
    const drive = await create(designer(t), {
      ...qbBody(`d-${tag}`, ['drive:folder:abc123']),
      integration: 'google_drive',
    });
    expect((await v.resolve(drive.id, { tenantId: t }, resolveBody('drive:folder:abc123'))).status).toBe(200);
    expect((await v.resolve(drive.id, { tenantId: t }, resolveBody('drive:folder:other'))).status).toBe(403);
    expect((await v.resolve(drive.id, { tenantId: t }, resolveBody('drive:readonly'))).status).toBe(403);
    const qb = await create(designer(t), qbBody(`q-${tag}`, ['invoices:read', 'invoices:write']));
    expect((await v.resolve(qb.id, { tenantId: t }, resolveBody('invoices:write'))).status).toBe(200);
    expect((await v.resolve(qb.id, { tenantId: t }, resolveBody('invoices:delete'))).status).toBe(403);
  });

  it('revoke takes effect immediately', async () => {
    const t = newTenant();
    const c = await create(designer(t), qbBody(`rv-${tag}`));
    expect((await v.resolve(c.id, { tenantId: t }, resolveBody('invoices:read'))).status).toBe(200);
    expect((await v.call('DELETE', `/v1/credentials/${c.id}`, { principal: designer(t) })).status).toBe(204);
    const after = await v.resolve(c.id, { tenantId: t }, resolveBody('invoices:read'));
    expect(after.status).toBe(403);
    expect(after.json<{ error: { details: { reason: string } } }>().error.details.reason).toBe('revoked');
    expect(after.body).not.toContain(`rv-${tag}`);
    expect((await v.call('DELETE', `/v1/credentials/${c.id}`, { principal: designer(t) })).status).toBe(409);
    // The sealed secret is destroyed, not kept.
    const rows = await v.db.admin.query(
      'SELECT 1 FROM credential_versions WHERE credential_id = $1 AND ciphertext IS NOT NULL',
      [c.id],
    );
    expect(rows.rowCount).toBe(0);
  });

  it('rotate: the next resolve gets the new version; the old secret is gone at once', async () => {
    const t = newTenant();
    const c = await create(designer(t), qbBody(`old-${tag}`));
    const r = await v.call('POST', `/v1/credentials/${c.id}/rotate`, {
      principal: designer(t),
      body: { secret: `new-${tag}` },
    });
    expect(r.status).toBe(200);
    expect(r.json<View>().version).toBe(2);
    expect(r.body).not.toContain(`new-${tag}`);
    const res = await v.resolve(c.id, { tenantId: t }, resolveBody('invoices:read'));
    expect(res.json()).toMatchObject({ version: 2, secret: `new-${tag}` });
    const old = await v.db.admin.query<{ status: string; ciphertext: Buffer | null }>(
      'SELECT status, ciphertext FROM credential_versions WHERE credential_id = $1 AND version = 1',
      [c.id],
    );
    expect(old.rows[0]).toEqual({ status: 'superseded', ciphertext: null });
  });

  it("another company's credential is not found — on read, rotate, revoke and resolve", async () => {
    const a = newTenant();
    const b = newTenant();
    const c = await create(designer(a), qbBody(`xt-${tag}`));
    expect((await v.call('GET', `/v1/credentials/${c.id}`, { principal: admin(b) })).status).toBe(404);
    expect(
      (await v.call('POST', `/v1/credentials/${c.id}/rotate`, { principal: admin(b), body: { secret: 'x' } })).status,
    ).toBe(404);
    expect((await v.call('DELETE', `/v1/credentials/${c.id}`, { principal: admin(b) })).status).toBe(404);
    const res = await v.resolve(c.id, { tenantId: b }, resolveBody('invoices:read'));
    expect(res.status).toBe(404);
    expect(res.body).not.toContain(`xt-${tag}`);
    expect(
      (await v.call('GET', '/v1/credentials', { principal: admin(b) })).json<{ items: unknown[] }>().items,
    ).toEqual([]);
  });
});

describe('ciphertext moved elsewhere refuses to open', () => {
  async function integrityRefusal(id: string, tenantId: string) {
    const res = await v.resolve(id, { tenantId }, resolveBody('invoices:read'));
    expect(res.status).toBe(409);
    expect(res.json<{ error: { details: { reason: string } } }>().error.details.reason).toBe('integrity_check_failed');
    return res;
  }

  it('to another credential of the same company', async () => {
    const t = newTenant();
    const a = await create(designer(t), qbBody(`ma-${tag}`));
    const b = await create(designer(t), qbBody(`mb-${tag}`));
    // The attacker has full database access (superuser) and copies A's sealed secret into B's row.
    await v.db.admin.query(
      `UPDATE credential_versions SET ciphertext = (SELECT ciphertext FROM credential_versions WHERE credential_id = $1)
        WHERE credential_id = $2`,
      [a.id, b.id],
    );
    const res = await integrityRefusal(b.id, t);
    expect(res.body).not.toContain(`ma-${tag}`);
    expect(res.body).not.toContain(`mb-${tag}`);
  });

  it('to a credential of another company, data key id and all', async () => {
    const t1 = newTenant();
    const t2 = newTenant();
    const a = await create(designer(t1), qbBody(`ta-${tag}`));
    const b = await create(designer(t2), qbBody(`tb-${tag}`));
    await v.db.admin.query(
      `UPDATE credential_versions SET (ciphertext, data_key_id) =
         (SELECT ciphertext, data_key_id FROM credential_versions WHERE credential_id = $1)
        WHERE credential_id = $2`,
      [a.id, b.id],
    );
    const res = await integrityRefusal(b.id, t2);
    expect(res.body).not.toContain(`ta-${tag}`);
    // Also when only the bytes move (the row still names its own company's key).
    const c = await create(designer(t2), qbBody(`tc-${tag}`));
    await v.db.admin.query(
      `UPDATE credential_versions SET ciphertext = (SELECT ciphertext FROM credential_versions WHERE credential_id = $1 AND status = 'current')
        WHERE credential_id = $2`,
      [a.id, c.id],
    );
    await integrityRefusal(c.id, t2);
    expect(v.logText()).not.toContain(`ta-${tag}`);
  });
});

describe('field encryption', () => {
  const fields = (path: string, tenantId: string, body: unknown, cert?: string) =>
    v.fields('POST', path, { tenantId, ...(cert ? { cert } : {}) }, body);

  it('round-trips for the flow engine, bound to tenant, record and field', async () => {
    const t = newTenant();
    const item = { recordId: 'exe_1', field: 'input.ssn', version: 0 };
    const enc = await fields('encrypt', t, { items: [{ ...item, plaintext: `ssn-${tag}` }] });
    expect(enc.status).toBe(200);
    const sealed = enc.json<{ sealed: string[] }>().sealed[0]!;
    expect(Buffer.from(sealed, 'base64').includes(Buffer.from(`ssn-${tag}`))).toBe(false);
    const dec = await fields('decrypt', t, { items: [{ ...item, sealed }] });
    expect(dec.json()).toEqual({ plaintext: [`ssn-${tag}`] });
    expect((await fields('decrypt', t, { items: [{ ...item, field: 'input.name', sealed }] })).status).toBe(409);
    expect((await fields('decrypt', t, { items: [{ ...item, recordId: 'exe_2', sealed }] })).status).toBe(409);
    expect((await fields('decrypt', newTenant(), { items: [{ ...item, sealed }] })).status).toBe(409);
    expect((await fields('decrypt', t, { items: [{ ...item, sealed }] }, 'gateway')).status).toBe(403);
  });
});

describe('audit: each lifecycle step and each use → exactly one event', () => {
  it('created, used, use_refused, rotated, revoked, key.rotated — with actor, never the secret', async () => {
    const t = newTenant();
    const who = designer(t);
    const secret = `ev-${tag}`;
    const c = await create(who, qbBody(secret));
    await v.resolve(c.id, { tenantId: t }, resolveBody('invoices:read'));
    await v.resolve(c.id, { tenantId: t }, resolveBody('invoices:write'));
    await v.call('POST', `/v1/credentials/${c.id}/rotate`, { principal: who, body: { secret: `${secret}-2` } });
    await v.call('DELETE', `/v1/credentials/${c.id}`, { principal: who });
    await v.resolve(c.id, { tenantId: t }, resolveBody('invoices:read'));
    const boss = admin(t);
    expect((await v.call('POST', '/v1/keys/rotate', { principal: boss })).status).toBe(202);

    const mine = await eventually(
      async () => {
        const { events } = await vaultEvents(v.prefix);
        const got = events.filter((e) => e.tenantId === t);
        return got.length >= 7 ? got : undefined;
      },
      { what: 'seven vault events for the company' },
    );
    const byType = (type: string): VaultEvent[] => mine.filter((e) => e.type === type);
    expect(byType('vault.credential.created')).toHaveLength(1);
    expect(byType('vault.credential.used')).toHaveLength(1);
    expect(byType('vault.credential.use_refused')).toHaveLength(2);
    expect(byType('vault.credential.rotated')).toHaveLength(1);
    expect(byType('vault.credential.revoked')).toHaveLength(1);
    expect(byType('vault.key.rotated')).toHaveLength(1);
    expect(byType('vault.credential.created')[0]!.actor).toMatchObject({ type: 'user', id: who.id });
    expect(byType('vault.key.rotated')[0]!.actor).toMatchObject({ type: 'user', id: boss.id });
    expect(byType('vault.key.rotated')[0]!.payload).toMatchObject({ kind: 'data_key' });
    const used = byType('vault.credential.used')[0]!;
    expect(used.actor).toMatchObject({ type: 'service', id: 'flow-engine' });
    expect(used.purpose).toBe('sync invoices to the ledger');
    expect(used.payload).toMatchObject({
      credentialId: c.id,
      version: 1,
      integration: 'quickbooks',
      flowId: 'flw_test',
      executionId: 'exe_test',
      stepId: 'step-1',
      scope: 'invoices:read',
    });
    expect(
      byType('vault.credential.use_refused')
        .map((e) => e.payload.reason)
        .sort(),
    ).toEqual(['revoked', 'scope_not_granted']);
    expect(JSON.stringify(mine)).not.toContain(secret);
  });
});
