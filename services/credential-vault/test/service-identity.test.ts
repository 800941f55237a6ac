// The vault never takes the caller's word. A service calling on its own initiative (the flow
// engine resolving a credential, a service sealing fields) proves who it is with its client
// certificate AND a call signed with its own identity key; the call names the company and the
// principal acted for, and the vault applies that principal's REAL role and grants from its copy
// of auth's identity events. Each test tries an attack a compromised or buggy caller could make.
import { randomBytes, sign } from 'node:crypto';
import { newId } from '@flow8/contracts';
import { createIdentitySigner, createServiceCallSigner, ed25519PrivateKey } from '@flow8/http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, httpsRequest, resolveBody, stackEnv, uniqueTopicPrefix } from '@flow8/testkit';
import { designer, newTenant, startVault, vaultEvents, type VaultEvent, type VaultHarness } from './harness';

let v: VaultHarness;
const tag = randomBytes(4).toString('hex');

beforeAll(async () => {
  v = await startVault({ overrides: { VAULT_FIELD_CALLERS: 'flow-engine,retention' } });
});

afterAll(async () => {
  await v?.stop();
  await v?.db.drop();
});

async function credentialOf(tenantId: string, secret: string): Promise<string> {
  const res = await v.call('POST', '/v1/credentials', {
    principal: designer(tenantId),
    body: { integration: 'quickbooks', name: 'QB', kind: 'api_key', scopes: ['invoices:read'], secret },
  });
  expect(res.status).toBe(201);
  return res.json<{ id: string }>().id;
}

/** The use events of a credential, once at least `n` are on the bus. */
async function useEvents(credentialId: string, n: number): Promise<VaultEvent[]> {
  return eventually(
    async () => {
      const mine = (await vaultEvents(v.prefix)).events.filter(
        (e) => e.resource.id === credentialId && e.type.startsWith('vault.credential.use'),
      );
      return mine.length >= n ? mine : undefined;
    },
    { what: `${n} use event(s) of ${credentialId}`, timeoutMs: 30_000 },
  );
}

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** A compact JWS over any header and claims, signed with `seed` (to build tokens the signer never would). */
function forge(seed: Buffer, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), ed25519PrivateKey(seed)).toString('base64url')}`;
}

/** Header and claims of a token the flow engine's signer made. */
function partsOf(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [h, p] = token.split('.') as [string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>,
  };
}

describe('resolve acts only for a real principal of the company its signed call names', () => {
  it("does not give company B's secret to a call acting for company A's Admin", async () => {
    const [a, b] = [newTenant(), newTenant()];
    const secretB = `b-secret-${tag}`;
    const credB = await credentialOf(b, secretB);
    const adminA = await v.members.user(a, 'admin');

    // The call names company B but "acts for" A's Admin: not a member of B.
    const asB = await v.resolve(credB, { tenantId: b, actingFor: adminA }, resolveBody('invoices:read'));
    expect(asB.status).toBe(403);
    expect(asB.body).not.toContain(secretB);
    // The call names company A (A's Admin is real there): B's credential does not exist in A.
    const asA = await v.resolve(credB, { tenantId: a, actingFor: adminA }, resolveBody('invoices:read'));
    expect(asA.status).toBe(404);
    expect(asA.body).not.toContain(secretB);

    // Both refusals audited, each under the company the call named, with whom it claimed to act for
    // (two companies: two partitions, so the two events come in either order).
    const events = await useEvents(credB, 2);
    const inB = events.find((e) => e.tenantId === b);
    const inA = events.find((e) => e.tenantId === a);
    expect([inB?.type, inB?.payload.reason]).toEqual(['vault.credential.use_refused', 'not_permitted']);
    expect([inA?.type, inA?.payload.reason]).toEqual(['vault.credential.use_refused', 'not_found']);
    expect(inB!.payload).toMatchObject({ actingFor: adminA });
    expect(String(inB!.payload.detail)).toMatch(/not a live principal of this company/);
    expect(inB!.actor).toEqual({ type: 'service', id: 'flow-engine', ip: null });
    expect(JSON.stringify(events)).not.toContain(secretB);
  });

  it('refuses a body that names a company or a principal, whatever the signed call says', async () => {
    const [a, b] = [newTenant(), newTenant()];
    const secretB = `b-body-${tag}`;
    const credB = await credentialOf(b, secretB);
    const adminA = await v.members.user(a, 'admin');
    // The shape a caller used to send: company and "acting for" (with a role) in the body.
    for (const hostile of [
      { tenantId: b },
      { actingFor: { type: 'user', id: adminA.id, role: 'admin' } },
      { tenantId: b, actingFor: { type: 'user', id: adminA.id, role: 'admin' } },
    ]) {
      const res = await v.resolve(credB, { tenantId: a, actingFor: adminA }, resolveBody('invoices:read', hostile));
      expect(res.status).toBe(400);
      expect(res.body).not.toContain(secretB);
    }
  });

  it('refuses a principal the company does not have, or no longer has', async () => {
    const t = newTenant();
    const secret = `ghost-${tag}`;
    const id = await credentialOf(t, secret);
    const ghost = { type: 'user' as const, id: newId('usr') };
    const res = await v.resolve(id, { tenantId: t, actingFor: ghost }, resolveBody('invoices:read'));
    expect(res.status).toBe(403);
    expect(res.body).not.toContain(secret);

    // A real Executor may; once removed, not any more.
    const runner = await v.members.user(t, 'executor');
    expect((await v.resolve(id, { tenantId: t, actingFor: runner }, resolveBody('invoices:read'))).status).toBe(200);
    await v.members.removeUser(t, runner.id, 'executor');
    const gone = await v.resolve(id, { tenantId: t, actingFor: runner }, resolveBody('invoices:read'));
    expect(gone.status).toBe(403);
    expect(gone.body).not.toContain(secret);

    const events = await useEvents(id, 3);
    expect(events.map((e) => `${e.type}:${String(e.payload.reason ?? '')}`)).toEqual([
      'vault.credential.use_refused:not_permitted',
      'vault.credential.used:',
      'vault.credential.use_refused:not_permitted',
    ]);
    expect(events[0]!.payload.actingFor).toEqual(ghost);
  });

  it("applies a Viewer's real role: a token claiming admin is refused, and so is the Viewer", async () => {
    const b = newTenant();
    const secret = `viewer-${tag}`;
    const id = await credentialOf(b, secret);
    const viewer = await v.members.user(b, 'viewer');
    const honest = v.services['flow-engine'].sign({ tenantId: b, actingFor: viewer }, 'credential-vault');
    const { header, claims } = partsOf(honest);

    // The flow engine's own key, but the token claims a role: authority is never the caller's to state.
    for (const extra of [{ role: 'admin' }, { scopes: ['credentials:read'] }, { act: { ...viewer, role: 'admin' } }]) {
      const token = forge(v.serviceSeeds['flow-engine'], header, { ...claims, ...extra });
      const res = await v.resolve(id, { tenantId: b, token }, resolveBody('invoices:read'));
      expect(res.status).toBe(401);
      expect(res.body).not.toContain(secret);
    }
    // The honest call: the Viewer's real role has no integrations:use.
    const res = await v.resolve(id, { tenantId: b, actingFor: viewer }, resolveBody('invoices:read'));
    expect(res.status).toBe(403);
    expect(res.body).not.toContain(secret);
    // Promoted to Executor by an Admin (identity.user.role_changed): now it may.
    await v.members.changeRole(b, viewer.id, 'viewer', 'executor');
    const promoted = await v.resolve(id, { tenantId: b, actingFor: viewer }, resolveBody('invoices:read'));
    expect(promoted.status).toBe(200);
    expect(promoted.json<{ secret: string }>().secret).toBe(secret);
  });

  it("an API key acts with its owner's real role, only while it and its owner are live", async () => {
    const t = newTenant();
    const secret = `key-${tag}`;
    const id = await credentialOf(t, secret);
    const owner = await v.members.user(t, 'executor');
    const key = await v.members.apiKey(t, owner.id, ['flows:execute']);
    expect((await v.resolve(id, { tenantId: t, actingFor: key }, resolveBody('invoices:read'))).status).toBe(200);
    // A key of a Viewer: the owner's role bounds it.
    const viewer = await v.members.user(t, 'viewer');
    const viewerKey = await v.members.apiKey(t, viewer.id, ['flows:execute']);
    expect((await v.resolve(id, { tenantId: t, actingFor: viewerKey }, resolveBody('invoices:read'))).status).toBe(403);
    // A key named as a user (the ids are typed) is refused.
    const mistyped = { type: 'user' as const, id: key.id };
    await expect(
      v.resolve(id, { tenantId: t, actingFor: mistyped }, resolveBody('invoices:read')),
    ).resolves.toMatchObject({ status: 401 });
    // Revoked: refused.
    await v.members.revokeKey(t, key.id, owner.id, ['flows:execute']);
    const revoked = await v.resolve(id, { tenantId: t, actingFor: key }, resolveBody('invoices:read'));
    expect(revoked.status).toBe(403);
    expect(revoked.body).not.toContain(secret);
    // A live key whose owner was removed: refused.
    const other = await v.members.apiKey(t, owner.id, ['flows:execute']);
    await v.members.removeUser(t, owner.id, 'executor');
    expect((await v.resolve(id, { tenantId: t, actingFor: other }, resolveBody('invoices:read'))).status).toBe(403);
  });
});

describe('forged service calls are refused', () => {
  let t: string;
  let id: string;
  const secret = `forged-${tag}`;

  beforeAll(async () => {
    t = newTenant();
    id = await credentialOf(t, secret);
  });

  it('accepts the honest call (so the refusals below are about the forgery)', async () => {
    const res = await v.resolve(id, { tenantId: t }, resolveBody('invoices:read'));
    expect(res.status).toBe(200);
  });

  it.each([
    [
      'signed with a key the vault does not trust',
      () => createServiceCallSigner({ service: 'flow-engine', seed: randomBytes(32) }),
    ],
    // Retention's key is trusted — for retention. Presented with the flow engine's certificate, it is not.
    [
      "signed with another service's key",
      () => createServiceCallSigner({ service: 'flow-engine', seed: v.serviceSeeds.retention }),
    ],
    ['issued by another service', () => v.services.retention],
  ])('refuses a call %s', async (_what, signer) => {
    const executor = await v.executorOf(t);
    const token = signer().sign({ tenantId: t, actingFor: executor }, 'credential-vault');
    const res = await v.resolve(id, { tenantId: t, token }, resolveBody('invoices:read'));
    expect(res.status).toBe(401);
    expect(res.body).not.toContain(secret);
  });

  it("refuses a call minted for another service, an expired one, and the gateway's kind of token", async () => {
    const executor = await v.executorOf(t);
    const fe = v.services['flow-engine'];
    const forAuth = fe.sign({ tenantId: t, actingFor: executor }, 'auth');
    const expired = createServiceCallSigner({
      service: 'flow-engine',
      seed: v.serviceSeeds['flow-engine'],
      now: () => Date.now() - 10 * 60_000,
    }).sign({ tenantId: t, actingFor: executor }, 'credential-vault');
    // A token the gateway would sign (the vault trusts the gateway's key — on the gateway's routes).
    const gatewayKind = createIdentitySigner({ seed: v.seed }).sign(
      { tenantId: t, type: 'user', id: executor.id, role: 'admin', scopes: [], ip: null, sessionId: null },
      'credential-vault',
    );
    for (const token of [forAuth, expired, gatewayKind, 'not-a-token']) {
      const res = await v.resolve(id, { tenantId: t, token }, resolveBody('invoices:read'));
      expect(res.status).toBe(401);
      expect(res.body).not.toContain(secret);
    }
    // No token at all.
    const bare = await httpsRequest(`${v.url}/internal/v1/credentials/${id}/resolve`, {
      method: 'POST',
      as: 'flow-engine',
      body: resolveBody('invoices:read'),
    });
    expect(bare.status).toBe(401);
  });

  it('refuses a field service on resolve even with its own valid call', async () => {
    const res = await v.resolve(id, { tenantId: t, service: 'retention' }, resolveBody('invoices:read'));
    expect(res.status).toBe(403);
    expect(res.body).not.toContain(secret);
  });
});

describe('a copy without stored progress (an upgrade to the principals, or cleared) rebuilds itself', () => {
  it('re-reads the identity topic from the beginning although its group has read it all', async () => {
    const t = newTenant();
    // A deployment of its own (its own consumer group, which nothing else uses).
    const first = await startVault({ prefix: uniqueTopicPrefix() });
    const member = await first.members.user(t, 'executor');
    await first.stop();
    // As migration 0002 leaves a copy built before it: progress cleared, no principals known.
    await first.db.admin.query('TRUNCATE principal_replica, grant_replica_progress');
    const again = await startVault({
      db: first.db,
      prefix: first.prefix,
      seed: first.seed,
      serviceSeeds: first.serviceSeeds,
      overrides: first.env,
    });
    try {
      await eventually(async () => ((await again.call('GET', '/readyz')).status === 200 ? true : undefined), {
        what: 'the rebuilt copy ready',
        timeoutMs: 30_000,
      });
      const known = await again.db.admin.query('SELECT 1 FROM principal_replica WHERE principal_id = $1', [member.id]);
      expect(known.rowCount).toBe(1);
    } finally {
      await again.stop();
      await first.db.drop();
    }
  });
});

describe('certificates only for what runs', () => {
  it('the local stack holds no certificate for retention (it does not run yet)', () => {
    // A certificate lying in the stack's state is a credential anyone on the host can pick up.
    // (The flow engine runs now, so the stack issues its certificate.)
    for (const name of ['retention']) {
      expect(existsSync(join(stackEnv().certsDir, `${name}.pem`))).toBe(false);
      expect(existsSync(join(stackEnv().certsDir, `${name}-key.pem`))).toBe(false);
    }
  });

  it('a vault configured as the local stack runs it (no service keys) refuses every resolve', async () => {
    const bare = await startVault({ overrides: { VAULT_SERVICE_IDENTITY_KEYS: '' } });
    try {
      const t = newTenant();
      const secret = `bare-${tag}`;
      const res = await bare.call('POST', '/v1/credentials', {
        principal: designer(t),
        body: { integration: 'quickbooks', name: 'QB', kind: 'api_key', scopes: ['invoices:read'], secret },
      });
      const id = res.json<{ id: string }>().id;
      // Even with a certificate the CA signed for the flow engine and a well-formed call.
      const refused = await bare.resolve(id, { tenantId: t }, resolveBody('invoices:read'));
      expect(refused.status).toBe(401);
      expect(refused.body).not.toContain(secret);
    } finally {
      await bare.stop();
      await bare.db.drop();
    }
  });
});

describe('field encryption is bound to the calling service and each decrypt is audited', () => {
  const item = (n: number) => ({ recordId: `exe_${tag}_${n}`, field: 'input.ssn', version: 0 });

  const decryptedRows = async (tenantId: string) =>
    (
      await v.db.admin.query<{ value: Buffer }>(
        `SELECT value FROM outbox WHERE event_type = 'vault.field.decrypted' AND tenant_id = $1 ORDER BY id`,
        [tenantId],
      )
    ).rows.map((r) => JSON.parse(r.value.toString('utf8')) as VaultEvent);

  it('a field sealed by the flow engine does not open for another service', async () => {
    const t = newTenant();
    const enc = await v.fields(
      'POST',
      'encrypt',
      { tenantId: t },
      { items: [{ ...item(1), plaintext: `ssn-${tag}` }] },
    );
    expect(enc.status).toBe(200);
    const sealed = enc.json<{ sealed: string[] }>().sealed[0]!;
    for (const path of ['decrypt', 'reencrypt']) {
      const res = await v.fields(
        'POST',
        path,
        { tenantId: t, service: 'retention' },
        { items: [{ ...item(1), sealed }] },
      );
      expect(res.status).toBe(409);
      expect(res.body).not.toContain(`ssn-${tag}`);
    }
    // Nor for the flow engine of another company.
    expect(
      (await v.fields('POST', 'decrypt', { tenantId: newTenant() }, { items: [{ ...item(1), sealed }] })).status,
    ).toBe(409);
    expect(await decryptedRows(t)).toEqual([]);
  });

  it('takes the company from the signed call only: a body naming one is refused', async () => {
    const [a, b] = [newTenant(), newTenant()];
    const enc = await v.fields('POST', 'encrypt', { tenantId: b }, { items: [{ ...item(2), plaintext: `b-${tag}` }] });
    const sealed = enc.json<{ sealed: string[] }>().sealed[0]!;
    const res = await v.fields('POST', 'decrypt', { tenantId: a }, { tenantId: b, items: [{ ...item(2), sealed }] });
    expect(res.status).toBe(400);
    expect(res.body).not.toContain(`b-${tag}`);
    const keys = await v.fields('GET', `keys?tenantId=${b}`, { tenantId: a });
    expect(keys.status).toBe(400);
  });

  it('records each decrypt once — service, principal, records and fields, never the plaintext', async () => {
    const t = newTenant();
    const reader = await v.members.user(t, 'admin');
    const plain = ['111-11-1111', '222-22-2222', '333-33-3333'].map((p) => `${p}-${tag}`);
    const enc = await v.fields(
      'POST',
      'encrypt',
      { tenantId: t },
      { items: plain.map((p, i) => ({ ...item(i), plaintext: p })) },
    );
    const sealed = enc.json<{ sealed: string[] }>().sealed;
    const three = await v.fields(
      'POST',
      'decrypt',
      { tenantId: t, actingFor: reader },
      { items: sealed.map((s, i) => ({ ...item(i), sealed: s })), purpose: 'show the execution log to its owner' },
    );
    expect(three.json()).toEqual({ plaintext: plain });
    const one = await v.fields('POST', 'decrypt', { tenantId: t }, { items: [{ ...item(0), sealed: sealed[0] }] });
    expect(one.status).toBe(200);
    // A refused decrypt (moved ciphertext) reveals nothing and records nothing.
    expect(
      (await v.fields('POST', 'decrypt', { tenantId: t }, { items: [{ ...item(1), sealed: sealed[0] }] })).status,
    ).toBe(409);
    // Acting for somebody who is not a member: refused before anything is opened.
    const ghost = { type: 'user' as const, id: newId('usr') };
    const refused = await v.fields(
      'POST',
      'decrypt',
      { tenantId: t, actingFor: ghost },
      { items: [{ ...item(0), sealed: sealed[0] }] },
    );
    expect(refused.status).toBe(403);
    expect(refused.body).not.toContain(plain[0]);

    // Exactly one event per successful call, in the same transaction as the reveal.
    const rows = await decryptedRows(t);
    expect(rows.map((e) => e.payload.count)).toEqual([3, 1]);
    expect(rows[0]).toMatchObject({
      actor: { type: 'service', id: 'flow-engine' },
      purpose: 'show the execution log to its owner',
      payload: {
        service: 'flow-engine',
        count: 3,
        fields: ['input.ssn'],
        recordIds: [0, 1, 2].map((i) => item(i).recordId),
        actingFor: reader,
      },
    });
    expect(rows[1]!.payload.actingFor).toBeUndefined();
    // And on the bus, once each.
    const onBus = await eventually(
      async () => {
        const mine = (await vaultEvents(v.prefix)).events.filter(
          (e) => e.tenantId === t && e.type === 'vault.field.decrypted',
        );
        return mine.length >= 2 ? mine : undefined;
      },
      { what: 'two field decrypt events on the bus', timeoutMs: 30_000 },
    );
    expect(onBus.map((e) => e.id)).toEqual(rows.map((e) => e.id));
    for (const p of plain) expect(JSON.stringify([...onBus, ...rows])).not.toContain(p);
  });
});
