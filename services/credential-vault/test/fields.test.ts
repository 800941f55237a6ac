// Field keys across a data-key rotation: fields sealed for other services live in their databases,
// so the vault cannot re-encrypt them itself. The old key stays until every service that sealed
// fields under it has re-sealed them (POST /internal/v1/fields/reencrypt) and released it; then
// the background pass retires it, and the old ciphertexts no longer open anywhere.
import { eventually, type HttpsResponse } from '@flow8/testkit';
import { admin, newTenant, startVault, vaultEvents, type ServiceCaller, type VaultHarness } from './harness';

let v: VaultHarness;

beforeAll(async () => {
  // Two field callers: the flow engine and the retention service.
  v = await startVault({ overrides: { VAULT_FIELD_CALLERS: 'flow-engine,retention' } });
});

afterAll(async () => {
  await v?.stop();
  await v?.db.drop();
});

// The company is the one the service's signed call names (`t`), never a body field.
const fields = (
  method: string,
  path: string,
  t: string,
  body?: unknown,
  service: ServiceCaller | 'gateway' = 'flow-engine',
): Promise<HttpsResponse> =>
  service === 'gateway'
    ? v.fields(method, path, { tenantId: t, cert: 'gateway' }, body)
    : v.fields(method, path, { tenantId: t, service }, body);

interface FieldKey {
  id: string;
  version: number;
  status: string;
  heldByYou: boolean;
}
const keysOf = async (t: string, service: ServiceCaller = 'flow-engine') =>
  (await fields('GET', 'keys', t, undefined, service)).json<{ items: FieldKey[] }>().items;

const item = (n: number) => ({ recordId: `exe_${n}`, field: 'input.ssn', version: 0 });

async function rotateCompanyKey(t: string): Promise<void> {
  expect((await v.call('POST', '/v1/keys/rotate', { principal: admin(t) })).status).toBe(202);
}

async function keyStatus(t: string, id: string): Promise<string | undefined> {
  return (await keysOf(t)).find((k) => k.id === id)?.status;
}

describe('field keys across a data-key rotation', () => {
  it('keeps the old key until each holder re-seals and releases it, then retires it', async () => {
    const t = newTenant();
    const plain = ['123-45-6789', '987-65-4321', '555-12-3456'];
    const enc = await fields('POST', 'encrypt', t, { items: plain.map((p, i) => ({ ...item(i), plaintext: p })) });
    expect(enc.status).toBe(200);
    const oldSealed = enc.json<{ sealed: string[] }>().sealed;
    // The retention service seals one field too, under the same key.
    const ret = await fields('POST', 'encrypt', t, { items: [{ ...item(9), plaintext: 'x' }] }, 'retention');
    expect(ret.status).toBe(200);
    const [oldKey] = await keysOf(t);
    expect(oldKey).toMatchObject({ status: 'active', heldByYou: true });

    await rotateCompanyKey(t);
    await v.svc.settle();
    // Fields are still sealed under it elsewhere: the key is kept (and still opens them).
    expect(await keyStatus(t, oldKey!.id)).toBe('retiring');
    const dec = await fields('POST', 'decrypt', t, { items: oldSealed.map((s, i) => ({ ...item(i), sealed: s })) });
    expect(dec.json()).toEqual({ plaintext: plain });
    // The active key cannot be released.
    const active = (await keysOf(t)).find((k) => k.status === 'active')!;
    expect((await fields('POST', 'keys/release', t, { keyId: active.id })).status).toBe(409);

    // The flow engine re-seals its fields under the active key: same plaintext, bound the same way.
    const re = await fields('POST', 'reencrypt', t, { items: oldSealed.map((s, i) => ({ ...item(i), sealed: s })) });
    expect(re.status).toBe(200);
    const body = re.json<{ sealed: string[]; reencrypted: number; keyId: string }>();
    expect(body).toMatchObject({ reencrypted: 3, keyId: active.id });
    expect(body.sealed.every((s, i) => s !== oldSealed[i])).toBe(true);
    // Re-sealing again is a no-op (already under the active key).
    const again = await fields('POST', 'reencrypt', t, {
      items: body.sealed.map((s, i) => ({ ...item(i), sealed: s })),
    });
    expect(again.json<{ reencrypted: number; sealed: string[] }>()).toMatchObject({
      reencrypted: 0,
      sealed: body.sealed,
    });
    // Bound to record and field like any sealed field: moving it is refused.
    expect((await fields('POST', 'reencrypt', t, { items: [{ ...item(1), sealed: oldSealed[0] }] })).status).toBe(409);

    // The flow engine releases; retention still holds fields under the key → kept.
    const rel = await fields('POST', 'keys/release', t, { keyId: oldKey!.id });
    expect(rel.status).toBe(200);
    expect(rel.json()).toEqual({ stillHeldBy: ['retention'] });
    await v.svc.settle();
    expect(await keyStatus(t, oldKey!.id)).toBe('retiring');

    // Retention releases too → the background pass retires the key and destroys its material.
    const rel2 = await fields('POST', 'keys/release', t, { keyId: oldKey!.id }, 'retention');
    expect(rel2.json()).toEqual({ stillHeldBy: [] });
    await eventually(async () => ((await keyStatus(t, oldKey!.id)) === 'retired' ? true : undefined), {
      what: 'the old key retired',
      timeoutMs: 20_000,
    });
    const row = await v.db.admin.query('SELECT wrapped FROM data_keys WHERE id = $1', [oldKey!.id]);
    expect(row.rows[0]).toEqual({ wrapped: null });
    // Old ciphertexts are now unreadable; the re-sealed ones open.
    expect((await fields('POST', 'decrypt', t, { items: [{ ...item(0), sealed: oldSealed[0] }] })).status).toBe(409);
    const fresh = await fields('POST', 'decrypt', t, { items: body.sealed.map((s, i) => ({ ...item(i), sealed: s })) });
    expect(fresh.json()).toEqual({ plaintext: plain });

    // Audited: each release names the service; then the retirement.
    const events = await eventually(async () => {
      const { events: all } = await vaultEvents(v.prefix);
      const mine = all.filter((e) => e.tenantId === t && e.resource.id === oldKey!.id);
      return mine.some((e) => e.type === 'vault.key.retired') ? mine : undefined;
    });
    expect(
      events.filter((e) => e.type === 'vault.key.fields_released').map((e) => [e.actor.id, e.payload.stillHeldBy]),
    ).toEqual([
      ['flow-engine', ['retention']],
      ['retention', []],
    ]);
  });

  it("refuses another company's key, an unknown key, and callers that are not field services", async () => {
    const [a, b] = [newTenant(), newTenant()];
    await fields('POST', 'encrypt', b, { items: [{ ...item(1), plaintext: 'b' }] });
    const [bKey] = await keysOf(b);
    await fields('POST', 'encrypt', a, { items: [{ ...item(1), plaintext: 'a' }] });
    expect((await fields('POST', 'keys/release', a, { keyId: bKey!.id })).status).toBe(404);
    expect((await fields('POST', 'keys/release', a, { keyId: '0'.repeat(32) })).status).toBe(404);
    expect((await keysOf(a)).map((k) => k.id)).not.toContain(bKey!.id);
    expect((await fields('POST', 'keys/release', b, { keyId: bKey!.id }, 'gateway')).status).toBe(403);
    expect((await fields('GET', 'keys', b, undefined, 'gateway')).status).toBe(403);
    expect((await fields('POST', 'reencrypt', b, { items: [{ ...item(1), sealed: 'AA==' }] }, 'gateway')).status).toBe(
      403,
    );
  });
});
