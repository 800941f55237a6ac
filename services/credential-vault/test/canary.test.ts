// Secrets never leak: canary secrets are planted, every lifecycle, use and error path is
// exercised, then every log line the service wrote, every message on the vault topics and a
// pg_dump of the vault database are searched for them. Zero hits.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { dlqTopic, eventsTopic } from '@flow8/contracts';
import { eventually, readTopic, resolveBody, stackEnv, testKafka } from '@flow8/testkit';
import { admin, designer, newTenant, startVault, type VaultHarness } from './harness';

const run = promisify(execFile);
const CANARY = `CANARY-${randomBytes(8).toString('hex')}`;
const canary = (what: string) => `${CANARY}-${what}`;

let v: VaultHarness;

beforeAll(async () => {
  v = await startVault();
});

afterAll(async () => {
  await v?.stop();
  await v?.db.drop();
});

/** Every encoding a careless path might write a secret in. */
function needles(secret: string): string[] {
  const b = Buffer.from(secret);
  return [secret, b.toString('base64'), b.toString('hex'), b.toString('base64url')];
}

it('finds no canary in logs, on the bus, or in a dump of the database', async () => {
  const t = newTenant();
  const other = newTenant();
  const who = designer(t);
  const post = (path: string, body: unknown, p = who) => v.call('POST', path, { principal: p, body });
  const field = (op: string, tenantId: string, body: unknown) => v.fields('POST', op, { tenantId }, body);

  // Create: every kind, every integration.
  const created: Record<string, string> = {};
  for (const [integration, kind, scope] of [
    ['clio', 'api_key', 'matters:read'],
    ['quickbooks', 'oauth2', 'invoices:read'],
    ['salesforce', 'password', 'records:read'],
    ['slack', 'token', 'chat:write'],
    ['google_drive', 'oauth2', 'drive:full'],
  ] as const) {
    const secret = canary(`${integration}-v1`);
    const res = await post('/v1/credentials', {
      integration,
      name: `${integration} prod`,
      kind,
      scopes: [scope],
      secret,
    });
    expect(res.status).toBe(201);
    created[integration] = res.json<{ id: string }>().id;
    // Use.
    const used = await v.resolve(created[integration], { tenantId: t }, resolveBody(scope));
    expect(used.json<{ secret: string }>().secret).toBe(secret);
  }
  const qb = created.quickbooks!;
  // Refusals: out of scope, another company, not the flow engine.
  expect((await v.resolve(qb, { tenantId: t }, resolveBody('invoices:delete'))).status).toBe(403);
  expect((await v.resolve(qb, { tenantId: other }, resolveBody('invoices:read'))).status).toBe(404);
  expect((await v.resolve(qb, { tenantId: t, cert: 'gateway' }, resolveBody('invoices:read'))).status).toBe(403);
  // Rotate, use, revoke, refused.
  expect((await post(`/v1/credentials/${qb}/rotate`, { secret: canary('quickbooks-v2') })).status).toBe(200);
  expect((await v.resolve(qb, { tenantId: t }, resolveBody('invoices:read'))).json<{ secret: string }>().secret).toBe(
    canary('quickbooks-v2'),
  );
  expect((await v.call('DELETE', `/v1/credentials/${qb}`, { principal: who })).status).toBe(204);
  expect((await v.resolve(qb, { tenantId: t }, resolveBody('invoices:read'))).status).toBe(403);
  // Error paths that carry a secret in the request.
  expect((await post(`/v1/credentials/${qb}/rotate`, { secret: canary('rotate-revoked') })).status).toBe(409);
  expect(
    (
      await post('/v1/credentials', {
        integration: 'slack',
        name: 'x',
        kind: 'token',
        scopes: ['nope:nope'],
        secret: canary('bad-scope'),
      })
    ).status,
  ).toBe(400);
  expect(
    (
      await post('/v1/credentials', {
        integration: 'slack',
        name: '',
        kind: 'token',
        scopes: ['chat:write'],
        secret: canary('bad-name'),
      })
    ).status,
  ).toBe(400);
  expect(
    (
      await post('/v1/credentials', {
        integration: 'slack',
        kind: 'token',
        scopes: ['chat:write'],
        secret: canary('extra'),
        extra: canary('extra-field'),
      })
    ).status,
  ).toBe(400);
  expect(
    (
      await v.call('POST', '/v1/credentials', {
        principal: { ...who, role: 'viewer' },
        body: { integration: 'slack', name: 'x', kind: 'token', scopes: ['chat:write'], secret: canary('forbidden') },
      })
    ).status,
  ).toBe(403);
  expect(
    (await v.call('POST', '/v1/credentials', { principal: who, body: `{"secret":"${canary('malformed')}"` })).status,
  ).toBe(400);
  // Field encryption, and a failed decrypt.
  const item = { recordId: 'exe_canary', field: 'input.password', version: 0 };
  const enc = await field('encrypt', t, { items: [{ ...item, plaintext: canary('field') }] });
  const sealed = enc.json<{ sealed: string[] }>().sealed[0]!;
  expect((await field('decrypt', t, { items: [{ ...item, sealed }] })).json()).toEqual({
    plaintext: [canary('field')],
  });
  expect((await field('decrypt', other, { items: [{ ...item, sealed }] })).status).toBe(409);
  // Key rotation and its background re-encryption (plaintext passes through memory only).
  expect((await v.call('POST', '/v1/keys/rotate', { principal: admin(t) })).status).toBe(202);
  await eventually(async () => {
    const r = await v.call('GET', '/v1/keys', { principal: admin(t) });
    return !r.json<{ reencryption: { inProgress: boolean } }>().reencryption.inProgress;
  });

  // Moved ciphertext → integrity refusal.
  await v.db.admin.query(
    `UPDATE credential_versions SET ciphertext = (SELECT ciphertext FROM credential_versions WHERE credential_id = $1 AND status = 'current')
      WHERE credential_id = $2 AND status = 'current'`,
    [created.clio, created.slack],
  );
  expect((await v.resolve(created.slack!, { tenantId: t }, resolveBody('chat:write'))).status).toBe(409);
  // Wait for the relay to drain the outbox, then read every vault topic.
  await eventually(async () => {
    const r = await v.db.admin.query('SELECT 1 FROM outbox WHERE sent_at IS NULL');
    return r.rowCount === 0;
  });
  const kafka = testKafka();
  const topic = eventsTopic('vault', v.prefix);
  const messages = [
    ...(await readTopic(kafka, topic)),
    ...(await readTopic(kafka, dlqTopic(topic), { timeoutMs: 3000 })),
  ];
  expect(messages.length).toBeGreaterThanOrEqual(15);
  const busText = messages
    .map((m) => `${m.key ?? ''} ${JSON.stringify(m.headers)} ${m.value?.toString('utf8') ?? ''}`)
    .join('\n');

  // A dump of the whole database, as the superuser.
  const env = stackEnv();
  const url = new URL(v.db.adminUrl);
  url.searchParams.set('sslrootcert', env.caFile);
  const dump = await run('pg_dump', ['--data-only', '--no-owner', url.toString()], { maxBuffer: 256 * 1024 * 1024 });
  expect(dump.stdout).toContain('credential_versions');

  const logs = v.logText();
  expect(logs.length).toBeGreaterThan(1000);
  const keys = [
    Buffer.from(v.config.ENCRYPTION_KEY).toString('base64'),
    Buffer.from(v.config.ENCRYPTION_KEY).toString('hex'),
  ];
  const hits: string[] = [];
  for (const [where, text] of [
    ['logs', logs],
    ['kafka', busText],
    ['pg_dump', dump.stdout],
  ] as const) {
    for (const n of [...needles(CANARY), ...keys]) if (text.includes(n)) hits.push(`${where}: ${n.slice(0, 12)}…`);
  }
  expect(hits).toEqual([]);
  // The search itself can find things: the credential ids are in all three.
  expect(logs.includes(qb) || logs.includes(created.slack!)).toBe(true);
  expect(busText).toContain(qb);
  expect(dump.stdout).toContain(qb);
});
