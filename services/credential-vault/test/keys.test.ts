// The key hierarchy through the real stack: start-up with the wrong key, a company's data-key
// rotation with background re-encryption, and a root-key rotation while the flow engine keeps
// resolving credentials — then status, retire, and start-up with the retired key refused.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { keyFingerprint, ready } from '@flow8/crypto';
import { createLogger } from '@flow8/telemetry';
import {
  eventually,
  freshDatabase,
  httpsRequest,
  repoRoot,
  resolveBody,
  uniqueTopicPrefix,
  type TestDatabase,
} from '@flow8/testkit';
import { vaultConfigSchema } from '../src/config';
import { RootKeyMismatchError } from '../src/keyring/keyring';
import { createVault } from '../src/service';
import {
  admin,
  designer,
  newKey,
  newTenant,
  startVault,
  VAULT_MIGRATIONS,
  vaultEnv,
  vaultEvents,
  type VaultHarness,
} from './harness';

const fp = (b64: string) => keyFingerprint(new Uint8Array(Buffer.from(b64, 'base64')));
const silent = () =>
  createLogger({ service: 'credential-vault', level: 'fatal', destination: { write: () => undefined } });

beforeAll(async () => {
  await ready();
});

function runNode(script: string, env: Record<string, string>, args: string[] = []) {
  return new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve) => {
    const started = Date.now();
    const child = spawn(join(repoRoot(), 'node_modules/.bin/tsx'), [script, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      cwd: join(repoRoot(), 'services/credential-vault'),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe('start-up with the wrong key', () => {
  let db: TestDatabase;
  let k1: string;
  beforeAll(async () => {
    db = await freshDatabase('VAULT', VAULT_MIGRATIONS);
    k1 = newKey();
    const v = await startVault({ db, overrides: { ENCRYPTION_KEY: k1 } });
    const t = newTenant();
    const res = await v.call('POST', '/v1/credentials', {
      principal: designer(t),
      body: {
        integration: 'slack',
        name: 'Slack',
        kind: 'token',
        scopes: ['chat:write'],
        secret: 'xoxb-wrong-key-test',
      },
    });
    expect(res.status).toBe(201);
    await v.stop();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('refuses in-process with the fingerprint, never the key', async () => {
    const wrong = newKey();
    const config = vaultConfigSchema.parse(vaultEnv(db, uniqueTopicPrefix(), newKey(), { ENCRYPTION_KEY: wrong }));
    const err = await createVault(config, silent()).then(
      () => new Error('started with the wrong key'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RootKeyMismatchError);
    const message = (err as Error).message;
    expect(message).toContain(
      `credential-vault: ENCRYPTION_KEY does not match the key this database was encrypted with (fingerprint ${fp(k1)}`,
    );
    expect(message).not.toContain(k1);
    expect(message).not.toContain(wrong);
  });

  it('the real process exits at once (78) with the clear message on stderr', async () => {
    const wrong = newKey();
    const env = vaultEnv(db, uniqueTopicPrefix(), newKey(), { ENCRYPTION_KEY: wrong, LOG_LEVEL: 'info' });
    const r = await runNode('src/main.ts', env);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(
      'credential-vault: ENCRYPTION_KEY does not match the key this database was encrypted with',
    );
    expect(r.stderr + r.stdout).not.toContain(wrong);
    expect(r.stderr + r.stdout).not.toContain(k1);
  });

  it('a missing or malformed key is a configuration error before anything connects', async () => {
    const env = vaultEnv(db, uniqueTopicPrefix(), newKey());
    delete env.ENCRYPTION_KEY;
    const missing = await runNode('src/main.ts', env);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toMatch(/ENCRYPTION_KEY: required/);
    const short = await runNode('src/main.ts', { ...env, ENCRYPTION_KEY: Buffer.alloc(16, 7).toString('base64') });
    expect(short.code).toBe(78);
    expect(short.stderr).toMatch(/ENCRYPTION_KEY: must decode to exactly 32 bytes/);
  });
});

describe("a company's data-key rotation", () => {
  let v: VaultHarness;
  beforeAll(async () => {
    v = await startVault({ overrides: { VAULT_REENCRYPT_BATCH: '3' } });
  });
  afterAll(async () => {
    await v?.stop();
    await v?.db.drop();
  });

  it('re-encrypts every record in the background, retires the old key, and nothing stops working', async () => {
    const t = newTenant();
    const ids: string[] = [];
    for (let i = 0; i < 8; i += 1) {
      const res = await v.call('POST', '/v1/credentials', {
        principal: designer(t),
        body: {
          integration: 'clio',
          name: `Clio ${i}`,
          kind: 'api_key',
          scopes: ['matters:read'],
          secret: `clio-${i}`,
        },
      });
      ids.push(res.json<{ id: string }>().id);
    }
    const before = await v.call('GET', '/v1/keys', { principal: admin(t) });
    const oldKey = before.json<{ items: Array<{ id: string; records: number }> }>().items[0]!;
    expect(oldKey.records).toBe(8);

    const rot = await v.call('POST', '/v1/keys/rotate', { principal: admin(t) });
    expect(rot.status).toBe(202);
    const newKeyId = rot.json<{ activeKeyId: string }>().activeKeyId;
    expect(newKeyId).not.toBe(oldKey.id);

    const done = await eventually(
      async () => {
        const r = (await v.call('GET', '/v1/keys', { principal: admin(t) })).json<{
          items: Array<{ id: string; status: string; records: number }>;
          reencryption: { inProgress: boolean };
        }>();
        return r.reencryption.inProgress ? undefined : r;
      },
      { what: 're-encryption to finish' },
    );
    expect(done.items.find((k) => k.id === oldKey.id)).toMatchObject({ status: 'retired', records: 0 });
    expect(done.items.find((k) => k.id === newKeyId)).toMatchObject({ status: 'active', records: 8 });
    for (const [i, id] of ids.entries()) {
      const res = await v.resolve(id, { tenantId: t }, resolveBody('matters:read'));
      expect(res.json()).toMatchObject({ secret: `clio-${i}` });
    }
    // The retired key's material is destroyed.
    const row = await v.db.admin.query('SELECT wrapped FROM data_keys WHERE id = $1', [oldKey.id]);
    expect(row.rows[0]).toEqual({ wrapped: null });
    // Audited: rotation by the Admin, retirement by the vault.
    const retired = await eventually(async () => {
      const { events } = await vaultEvents(v.prefix);
      const r = events.filter((e) => e.tenantId === t && e.type === 'vault.key.retired');
      return r.length > 0 ? r : undefined;
    });
    expect(retired).toHaveLength(1);
  });
  it('a record that fails its integrity check does not block the others, and keeps the old key from retiring', async () => {
    const t = newTenant();
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const res = await v.call('POST', '/v1/credentials', {
        principal: designer(t),
        body: { integration: 'slack', name: `Slack ${i}`, kind: 'token', scopes: ['chat:write'], secret: `xoxb-${i}` },
      });
      ids.push(res.json<{ id: string }>().id);
    }
    // An attacker with database access swaps one ciphertext for another's.
    await v.db.admin.query(
      'UPDATE credential_versions SET ciphertext = (SELECT ciphertext FROM credential_versions WHERE credential_id = $1) WHERE credential_id = $2',
      [ids[0], ids[1]],
    );
    expect((await v.call('POST', '/v1/keys/rotate', { principal: admin(t) })).status).toBe(202);
    const r = await eventually(
      async () => {
        const k = (await v.call('GET', '/v1/keys', { principal: admin(t) })).json<{
          items: Array<{ status: string; records: number }>;
          reencryption: { inProgress: boolean; remaining: number };
        }>();
        return k.items.find((i) => i.status === 'active')?.records === 3 ? k : undefined;
      },
      { what: 'the three sound records re-encrypted' },
    );
    expect(r.reencryption).toMatchObject({ inProgress: true, remaining: 1 });
    expect(r.items.find((i) => i.status === 'retiring')).toMatchObject({ records: 1 });
    for (const i of [0, 2, 3])
      expect((await v.resolve(ids[i]!, { tenantId: t }, resolveBody('chat:write'))).status).toBe(200);
    expect((await v.resolve(ids[1]!, { tenantId: t }, resolveBody('chat:write'))).status).toBe(409);
    // Asking again while it is still in progress does not start another rotation.
    const again = await v.call('POST', '/v1/keys/rotate', { principal: admin(t) });
    expect(again.status).toBe(200);
    expect(again.json<{ started: boolean }>().started).toBe(false);
  });
});

describe('root-key rotation under load', () => {
  let db: TestDatabase;
  const prefix = uniqueTopicPrefix();
  const k1 = newKey();
  const k2 = newKey();
  const tenants: Array<{ tenantId: string; id: string; secret: string }> = [];

  beforeAll(async () => {
    db = await freshDatabase('VAULT', VAULT_MIGRATIONS);
    const a = await startVault({ db, prefix, overrides: { ENCRYPTION_KEY: k1 } });
    for (let i = 0; i < 30; i += 1) {
      const tenantId = newTenant();
      const secret = `root-rot-${i}`;
      const res = await a.call('POST', '/v1/credentials', {
        principal: designer(tenantId),
        body: { integration: 'salesforce', name: 'SF', kind: 'oauth2', scopes: ['records:read'], secret },
      });
      tenants.push({ tenantId, id: res.json<{ id: string }>().id, secret });
    }
    await a.stop();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('re-wraps every data key while resolutions continue without a single failure; then retire', async () => {
    // The rolling deployment: every replica gets ENCRYPTION_KEY=new and ENCRYPTION_KEY_PREVIOUS=old.
    // No cache: every resolve unwraps its data key from the database, seeing old or new wrapping.
    const b = await startVault({
      db,
      prefix,
      overrides: { ENCRYPTION_KEY: k2, ENCRYPTION_KEY_PREVIOUS: k1, VAULT_DATA_KEY_CACHE_TTL: '0' },
    });
    let ok = 0;
    const failures: string[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = w; !stop; i += 1) {
        const c = tenants[i % tenants.length]!;
        const res = await b.resolve(c.id, { tenantId: c.tenantId }, resolveBody('records:read'));
        if (res.status === 200 && res.json<{ secret: string }>().secret === c.secret) ok += 1;
        else failures.push(`${res.status} ${res.body}`);
      }
    };
    const loops = [0, 1, 2, 3, 4, 5].map(worker);
    try {
      await eventually(async () => ok > 50, { what: 'resolutions before the rotation' });
      // Still referenced: retiring the old key is refused.
      const early = await httpsRequest(`${b.url}/internal/v1/keys/retire`, {
        method: 'POST',
        as: 'operator',
        body: { fingerprint: fp(k1), actor: 'sre-alice' },
      });
      expect(early.status).toBe(409);
      const beforeRotation = ok;
      const cli = await runNode(
        'src/cli/rotate-root-key.ts',
        {
          VAULT_DATABASE_URL: db.appUrl,
          FLOW8_CA_FILE: b.env.FLOW8_CA_FILE!,
          ENCRYPTION_KEY: k2,
          ENCRYPTION_KEY_PREVIOUS: k1,
          KAFKA_TOPIC_PREFIX: prefix,
        },
        ['--actor', 'sre-alice'],
      );
      expect(cli.stderr).toBe('');
      expect(cli.code).toBe(0);
      expect(cli.stdout).toContain(`done: 30 data keys re-wrapped from ${fp(k1)} to ${fp(k2)}`);
      expect(cli.stdout + cli.stderr).not.toContain(k1);
      expect(cli.stdout + cli.stderr).not.toContain(k2);
      const during = ok - beforeRotation;
      expect(during).toBeGreaterThan(0);
      await eventually(async () => ok > beforeRotation + during + 50, { what: 'resolutions after the rotation' });
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    expect(failures).toEqual([]);

    const status = await httpsRequest(`${b.url}/internal/v1/keys/status`, { as: 'operator' });
    expect(status.status).toBe(200);
    const s = status.json<{ rootKeys: Array<{ fingerprint: string; dataKeys: number; records: number }> }>();
    expect(s.rootKeys.find((r) => r.fingerprint === fp(k1))).toMatchObject({ dataKeys: 0, records: 0 });
    expect(s.rootKeys.find((r) => r.fingerprint === fp(k2))).toMatchObject({ dataKeys: 30, records: 30 });
    expect(status.body).not.toContain(k1);
    // Only the operator's certificate may ask.
    expect((await httpsRequest(`${b.url}/internal/v1/keys/status`, { as: 'gateway' })).status).toBe(403);

    const retireCurrent = await httpsRequest(`${b.url}/internal/v1/keys/retire`, {
      method: 'POST',
      as: 'operator',
      body: { fingerprint: fp(k2), actor: 'sre-alice' },
    });
    expect(retireCurrent.status).toBe(409);
    const retire = await httpsRequest(`${b.url}/internal/v1/keys/retire`, {
      method: 'POST',
      as: 'operator',
      body: { fingerprint: fp(k1), actor: 'sre-alice' },
    });
    expect(retire.status).toBe(200);

    // Each re-wrap is audited with who did it.
    const rewraps = await eventually(async () => {
      const { events } = await vaultEvents(prefix);
      const r = events.filter((e) => e.type === 'vault.key.rotated' && e.payload.kind === 'root_rewrap');
      return r.length >= 30 ? r : undefined;
    });
    expect(rewraps).toHaveLength(30);
    expect(new Set(rewraps.map((e) => e.actor.id))).toEqual(new Set(['operator:sre-alice']));
    await b.stop();

    // The retired key no longer starts the service; the new one alone does.
    const config = vaultConfigSchema.parse(vaultEnv(db, prefix, newKey(), { ENCRYPTION_KEY: k1 }));
    await expect(createVault(config, silent())).rejects.toThrow(/retired root key/);
    const c = await startVault({ db, prefix, overrides: { ENCRYPTION_KEY: k2 } });
    try {
      const one = tenants[0]!;
      expect((await c.resolve(one.id, { tenantId: one.tenantId }, resolveBody('records:read'))).json()).toMatchObject({
        secret: one.secret,
      });
    } finally {
      await c.stop();
    }
  });
});
