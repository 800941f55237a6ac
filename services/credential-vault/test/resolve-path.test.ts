// The resolve hot path (one transaction in four round trips: BEGIN with the tenant, one read, the
// event, COMMIT) still keeps what it promises: every resolve runs under its own company's RLS
// setting, even many at once over shared connections, and a use that cannot be recorded returns
// no secret. The database is played by its superuser, who adds triggers to break things.
import { randomBytes } from 'node:crypto';
import { resolveBody } from '@flow8/testkit';
import { designer, newTenant, startVault, type VaultHarness } from './harness';

let v: VaultHarness;
const tag = randomBytes(4).toString('hex');

beforeAll(async () => {
  v = await startVault();
});

afterAll(async () => {
  await v?.stop();
  await v?.db.drop();
});

async function create(tenantId: string, secret: string): Promise<string> {
  const res = await v.call('POST', '/v1/credentials', {
    principal: designer(tenantId),
    body: { integration: 'quickbooks', name: 'QB', kind: 'api_key', scopes: ['invoices:read'], secret },
  });
  expect(res.status).toBe(201);
  return res.json<{ id: string }>().id;
}

const usedRows = async (credentialId: string): Promise<number> =>
  (
    await v.db.admin.query(
      `SELECT 1 FROM outbox WHERE event_type = 'vault.credential.used' AND convert_from(value, 'UTF8')::jsonb #>> '{payload,credentialId}' = $1`,
      [credentialId],
    )
  ).rowCount ?? 0;

describe('resolve: tenant setting and audit event in one transaction', () => {
  it('runs every resolve under its own company, with many companies in flight on shared connections', async () => {
    // The use events may only be written under the company they belong to: a resolve whose
    // transaction carried no tenant, or another company's, fails here instead of passing.
    await v.db.admin.query(`
      CREATE FUNCTION test_use_event_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF current_setting('app.tenant_id', true) IS DISTINCT FROM NEW.tenant_id THEN
          RAISE EXCEPTION 'use event for % written under tenant %', NEW.tenant_id, current_setting('app.tenant_id', true);
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_use_event_tenant BEFORE INSERT ON outbox FOR EACH ROW
        WHEN (NEW.event_type LIKE 'vault.credential.use%') EXECUTE FUNCTION test_use_event_tenant();`);
    try {
      const creds = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const t = newTenant();
          const secret = `rp-${tag}-${i}`;
          return { t, secret, id: await create(t, secret) };
        }),
      );
      // 60 resolves at once over a pool of 10 connections: each connection serves many companies.
      const results = await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          const c = creds[i % creds.length]!;
          const res = await v.resolve(c.id, { tenantId: c.t }, resolveBody('invoices:read'));
          return { c, res };
        }),
      );
      for (const { c, res } of results) {
        expect(res.status).toBe(200);
        expect(res.json<{ secret: string }>().secret).toBe(c.secret);
      }
      // A refusal (another company asking) is recorded under the asking company too.
      const other = newTenant();
      const refused = await v.resolve(creds[0]!.id, { tenantId: other }, resolveBody('invoices:read'));
      expect(refused.status).toBe(404);
    } finally {
      await v.db.admin.query('DROP TRIGGER test_use_event_tenant ON outbox; DROP FUNCTION test_use_event_tenant()');
    }
  });

  it('returns no secret when its use cannot be recorded, and nothing of it is kept', async () => {
    const t = newTenant();
    const secret = `rp-unrecorded-${tag}`;
    const id = await create(t, secret);
    await v.db.admin.query(`
      CREATE FUNCTION test_refuse_use_event() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'the outbox is refusing use events'; END $$;
      CREATE TRIGGER test_refuse_use_event BEFORE INSERT ON outbox FOR EACH ROW
        WHEN (NEW.event_type = 'vault.credential.used') EXECUTE FUNCTION test_refuse_use_event();`);
    try {
      const res = await v.resolve(id, { tenantId: t }, resolveBody('invoices:read'));
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(res.body).not.toContain(secret);
      expect(await usedRows(id)).toBe(0);
    } finally {
      await v.db.admin.query('DROP TRIGGER test_refuse_use_event ON outbox; DROP FUNCTION test_refuse_use_event()');
    }
    // Once the event can be written again, the same resolve succeeds, with its event.
    const ok = await v.resolve(id, { tenantId: t }, resolveBody('invoices:read'));
    expect(ok.status).toBe(200);
    expect(ok.json<{ secret: string }>().secret).toBe(secret);
    expect(await usedRows(id)).toBe(1);
  });
});
