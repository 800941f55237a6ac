// The runtime role tries to read and rewrite another company's key material. It used to be able
// to: the keyring-maintenance policies opened every company's data keys and credential versions
// to any session that set `app.keyring_maintenance = on`, which the runtime role may set itself.
// Cross-company maintenance now goes through SECURITY DEFINER functions that answer with ids,
// counts and key metadata only.
import { withTenant, withTransaction } from '@flow8/db';
import { httpsRequest } from '@flow8/testkit';
import { designer, newTenant, startVault, type VaultHarness } from './harness';

let v: VaultHarness;
const a = newTenant();
const b = newTenant();

beforeAll(async () => {
  v = await startVault();
  for (const [tenantId, secret] of [
    [a, 'xoxb-tenant-a-secret'],
    [b, 'xoxb-tenant-b-secret'],
  ] as const) {
    const res = await v.call('POST', '/v1/credentials', {
      principal: designer(tenantId),
      body: { integration: 'slack', name: 'Slack', kind: 'token', scopes: ['chat:write'], secret },
    });
    expect(res.status).toBe(201);
  }
});
afterAll(async () => {
  await v?.stop();
  await v?.db.drop();
});

/** As the vault's runtime role, company A's transaction with the old maintenance switch on. */
const asA = <T>(fn: Parameters<typeof withTenant<T>>[2]) =>
  withTenant(v.db.app, a, async (tx) => {
    await tx.query(`SELECT set_config('app.keyring_maintenance', 'on', true)`);
    return fn(tx);
  });

describe("the runtime role cannot reach another company's key material", () => {
  it('setting app.keyring_maintenance shows only its own data keys and credential versions', async () => {
    const keys = await asA((tx) => tx.query<{ tenant_id: string }>('SELECT tenant_id, wrapped FROM data_keys'));
    expect(keys.rows.map((r) => r.tenant_id)).toEqual([a]);
    const versions = await asA((tx) =>
      tx.query<{ tenant_id: string }>('SELECT tenant_id, ciphertext FROM credential_versions'),
    );
    expect(versions.rows.map((r) => r.tenant_id)).toEqual([a]);
    // Without any company at all: nothing.
    const none = await withTransaction(v.db.app, async (tx) => {
      await tx.query(`SELECT set_config('app.keyring_maintenance', 'on', true)`);
      return tx.query('SELECT 1 FROM data_keys UNION ALL SELECT 1 FROM credential_versions');
    });
    expect(none.rowCount).toBe(0);
  });

  it("setting app.keyring_maintenance cannot rewrite another company's data key", async () => {
    const updated = await asA((tx) =>
      tx.query(
        `UPDATE data_keys SET wrapped = '\\x00'::bytea, root_fingerprint = root_fingerprint WHERE tenant_id = $1`,
        [b],
      ),
    );
    expect(updated.rowCount).toBe(0);
    const bKeys = await v.db.admin.query<{ wrapped: Buffer }>('SELECT wrapped FROM data_keys WHERE tenant_id = $1', [
      b,
    ]);
    expect(bKeys.rows).toHaveLength(1);
    expect(bKeys.rows[0]!.wrapped.length).toBeGreaterThan(1);
  });

  it('the cross-company maintenance functions answer with ids, counts and metadata, never key material', async () => {
    const status = await v.db.app.query('SELECT * FROM vault_key_status()');
    expect(status.rows.map((r: { tenant_id: string }) => r.tenant_id).sort()).toEqual([a, b].sort());
    expect(status.fields.map((f) => f.name)).not.toContain('wrapped');
    expect(status.fields.map((f) => f.name)).not.toContain('ciphertext');
    const perRoot = await v.db.app.query<{ data_keys: string }>(
      'SELECT data_keys::text FROM vault_data_keys_per_root()',
    );
    expect(perRoot.rows).toEqual([{ data_keys: '2' }]);
    // And the operator's key status still spans companies, through them.
    const res = await httpsRequest(`${v.url}/internal/v1/keys/status`, { as: 'operator' });
    expect(res.status).toBe(200);
    const body = res.json<{ dataKeys: Array<{ tenantId: string; records: number }> }>();
    expect(body.dataKeys.map((k) => [k.tenantId, k.records]).sort()).toEqual(
      [
        [a, 1],
        [b, 1],
      ].sort(),
    );
  });
});
