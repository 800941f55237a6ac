// Companies and users end to end through the real stack: HTTPS with client certificates,
// Postgres with row-level security, the outbox, the relay and Kafka over TLS.
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventsTopic } from '@flow8/contracts';
import { setTenant, withTransaction } from '@flow8/db';
import { eventually, httpsRequest, readTopic, stackEnv, testKafka, type HttpsResponse } from '@flow8/testkit';
import { startAuth } from './harness';

type Auth = Awaited<ReturnType<typeof startAuth>>;
interface Created {
  tenant: { id: string; name: string; slug: string; createdAt: string };
  admin: { id: string; email: string; role: string; createdAt: string };
}
interface UserView {
  id: string;
  email: string;
  role: string;
  createdAt: string;
  updatedAt: string;
}
type OutboxRow = {
  event_type: string;
  tenant_id: string;
  value: Buffer;
  headers: Record<string, string>;
  topic: string;
};

type Role = 'admin' | 'flow_designer' | 'executor' | 'viewer';
const NON_ADMIN = ['flow_designer', 'executor', 'viewer'] as const;

// Planted secrets: each must reach the database only as a bcrypt hash, and nowhere else.
const tag = randomBytes(6).toString('hex');
const CANARY_ADMIN = `canary-admin-${tag}-Vx9`;
const CANARY_USER = `canary-user-${tag}-Qz4`;
const CANARY_CLI = `canary-cli-${tag}-Wk2`;
const CANARY_WEAK = `Password${tag.replace(/[a-z]/g, '7')}!`; // a common word with digits around it: refused
const CANARIES = [CANARY_ADMIN, CANARY_USER, CANARY_CLI, CANARY_WEAK];

let auth: Auth;

beforeAll(async () => {
  auth = await startAuth();
});

afterAll(async () => {
  await auth?.stop();
  await auth?.db.drop();
});

const slug = (label: string) => `${label}-${randomBytes(3).toString('hex')}`;

function createTenant(body: unknown, as: string | null = 'operator'): Promise<HttpsResponse> {
  return httpsRequest(`${auth.url}/v1/tenants`, { method: 'POST', as, body });
}

async function newCompany(label: string, password = `${label}-violet-tractor-${tag}`): Promise<Created> {
  const res = await createTenant({
    name: `${label} LLP`,
    slug: slug(label),
    admin: { email: `boss@${label}.test`, password },
  });
  expect(res.status).toBe(201);
  return res.json<Created>();
}

function users(tenantId: string, role: Role, opts: { method?: string; path?: string; body?: unknown } = {}) {
  return auth.call(opts.method ?? 'GET', `/v1/users${opts.path ?? ''}`, {
    principal: { tenantId, id: 'usr_actor', role },
    body: opts.body,
  });
}

async function outboxRows(tenantId: string): Promise<OutboxRow[]> {
  const { rows } = await auth.db.admin.query<OutboxRow>(
    'SELECT event_type, tenant_id, value, headers, topic FROM outbox WHERE tenant_id = $1 ORDER BY id',
    [tenantId],
  );
  return rows;
}

describe('creating a company (POST /v1/tenants)', () => {
  test('the operator creates a company and its first Admin; both events commit in the same transaction and reach Kafka', async () => {
    const s = slug('acme-law');
    const res = await createTenant({
      name: 'Acme Law',
      slug: s,
      admin: { email: 'Founder@Acme.test', password: CANARY_ADMIN },
    });
    expect(res.status).toBe(201);
    const body = res.json<Created>();
    expect(body).toEqual({
      tenant: {
        id: expect.stringMatching(/^ten_[0-9a-z]{26}$/),
        name: 'Acme Law',
        slug: s,
        createdAt: expect.any(String),
      },
      admin: {
        id: expect.stringMatching(/^usr_[0-9a-z]{26}$/),
        email: 'founder@acme.test',
        role: 'admin',
        createdAt: expect.any(String),
      },
    });
    expect(res.body).not.toContain(CANARY_ADMIN);
    expect(res.body).not.toMatch(/hash|\$2[aby]\$/i);

    const tenantId = body.tenant.id;
    const rows = await outboxRows(tenantId);
    expect(rows.map((r) => r.event_type)).toEqual(['identity.tenant.created', 'identity.user.created']);
    // One transaction: the tenant and admin rows carry the same inserting txid, and all four rows
    // the same now() (the transaction's start time). The outbox rows' xmin cannot be compared: the
    // relay may already have rewritten them (sent_at).
    const { rows: state } = await auth.db.admin.query<{ t: string; u: string; times: string[] }>(
      `SELECT (SELECT xmin::text FROM tenants WHERE id = $1) AS t, (SELECT xmin::text FROM users WHERE id = $2) AS u,
              ARRAY[(SELECT created_at::text FROM tenants WHERE id = $1), (SELECT created_at::text FROM users WHERE id = $2)]
                || ARRAY(SELECT created_at::text FROM outbox WHERE tenant_id = $1) AS times`,
      [tenantId, body.admin.id],
    );
    expect(state[0]!.t).toBe(state[0]!.u);
    expect(state[0]!.times).toHaveLength(4);
    expect(new Set(state[0]!.times).size).toBe(1);

    const [tenantEvent, userEvent] = rows.map((r) => JSON.parse(r.value.toString('utf8')) as Record<string, unknown>);
    expect(tenantEvent).toMatchObject({
      type: 'identity.tenant.created',
      tenantId,
      actor: { type: 'operator', id: 'operator', ip: expect.any(String) },
      resource: { type: 'tenant', id: tenantId },
      payload: { tenantId, name: 'Acme Law', slug: s },
    });
    expect(userEvent).toMatchObject({
      type: 'identity.user.created',
      tenantId,
      resource: { type: 'user', id: body.admin.id },
    });
    // No personal data on the bus: the payload is the id and the role, nothing else.
    expect(userEvent!.payload).toEqual({ userId: body.admin.id, role: 'admin' });
    expect(rows.map((r) => r.value.toString('utf8')).join('')).not.toContain('founder@acme.test');

    const topic = eventsTopic('identity', auth.prefix);
    expect(rows.every((r) => r.topic === topic)).toBe(true);
    await eventually(
      async () =>
        (await auth.db.admin.query('SELECT 1 FROM outbox WHERE tenant_id = $1 AND sent_at IS NULL', [tenantId]))
          .rowCount === 0,
      { what: 'the relay to mark both events sent', timeoutMs: 30_000 },
    );
    const kafka = testKafka();
    const messages = await eventually(
      async () => {
        const all = await readTopic(kafka, topic, { timeoutMs: 5_000 });
        const mine = all.filter((m) => m.key === tenantId);
        return mine.length >= 2 ? mine : undefined;
      },
      { what: `both events on ${topic}`, timeoutMs: 45_000 },
    );
    expect(messages.map((m) => m.headers['flow8-event-type'])).toEqual([
      'identity.tenant.created',
      'identity.user.created',
    ]);
    expect(new Set(messages.map((m) => m.partition)).size).toBe(1); // keyed by tenant: one partition, in order
  });

  test('a slug that is already taken is a 409, and nothing of the second attempt is stored', async () => {
    const first = await newCompany('dupe');
    const before = await auth.db.admin.query('SELECT count(*)::int AS n FROM outbox');
    const res = await createTenant({
      name: 'Another firm',
      slug: first.tenant.slug,
      admin: { email: 'other@another.test', password: `second-firm-${tag}-pw` },
    });
    expect(res.status).toBe(409);
    expect(res.json()).toMatchObject({ error: { code: 'CONFLICT' } });
    const after = await auth.db.admin.query('SELECT count(*)::int AS n FROM outbox');
    expect(after.rows[0]).toEqual(before.rows[0]);
    const u = await auth.db.admin.query('SELECT 1 FROM users WHERE email = $1', ['other@another.test']);
    expect(u.rowCount).toBe(0);
  });

  test.each(['gateway', 'testkit', 'auth'])('the %s certificate cannot create a company (403)', async (cert) => {
    const s = slug('intruder');
    const res = await createTenant(
      { name: 'Intruder', slug: s, admin: { email: 'x@intruder.test', password: `intruder-${tag}-pw!` } },
      cert,
    );
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect((await auth.db.admin.query('SELECT 1 FROM tenants WHERE slug = $1', [s])).rowCount).toBe(0);
  });

  test('the gateway may forward the platform operator with an identity of type operator', async () => {
    const s = slug('via-gateway');
    const res = await auth.call('POST', '/v1/tenants', {
      principal: { tenantId: null, type: 'operator', id: 'operator', ip: '198.51.100.9' },
      body: { name: 'Via Gateway', slug: s, admin: { email: 'a@via.test', password: `via-gateway-${tag}-pw` } },
    });
    expect(res.status).toBe(201);
    const tenantId = res.json<Created>().tenant.id;
    const event = JSON.parse((await outboxRows(tenantId))[0]!.value.toString('utf8')) as { actor: unknown };
    expect(event.actor).toEqual({ type: 'operator', id: 'operator', ip: '198.51.100.9' });
  });

  test('an Admin identity forwarded by the gateway cannot create a company (403)', async () => {
    const s = slug('admin-try');
    const res = await auth.call('POST', '/v1/tenants', {
      principal: { tenantId: 'ten_00000000000000000000000000', id: 'usr_actor', role: 'admin' },
      body: { name: 'Nope', slug: s, admin: { email: 'a@nope.test', password: `admin-try-${tag}-pw` } },
    });
    expect(res.status).toBe(403);
    expect((await auth.db.admin.query('SELECT 1 FROM tenants WHERE slug = $1', [s])).rowCount).toBe(0);
  });

  test('a client without a certificate is refused at the TLS handshake', async () => {
    const s = slug('anon');
    await expect(
      createTenant({ name: 'Anon', slug: s, admin: { email: 'x@anon.test', password: `anonymous-${tag}-pw!` } }, null),
    ).rejects.toThrow();
    expect((await auth.db.admin.query('SELECT 1 FROM tenants WHERE slug = $1', [s])).rowCount).toBe(0);
  });

  test('unknown fields are refused (400), so nobody can smuggle a role or an id in', async () => {
    const res = await createTenant({
      name: 'Sneaky',
      slug: slug('sneaky'),
      id: 'ten_00000000000000000000000000',
      admin: { email: 'a@sneaky.test', password: `sneaky-firm-${tag}-pw`, role: 'viewer' },
    });
    expect(res.status).toBe(400);
    expect(res.body).not.toContain(`sneaky-firm-${tag}-pw`);
  });

  test('the operator CLI creates a company, reading the password from the environment', async () => {
    const env = stackEnv();
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const s = slug('cli-firm');
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(
        join(root, 'node_modules/.bin/tsx'),
        [
          'services/auth/src/cli/create-tenant.ts',
          '--url',
          auth.url,
          '--name',
          'CLI Firm',
          '--slug',
          s,
          '--admin-email',
          'a@cli-firm.test',
        ],
        {
          cwd: root,
          env: {
            PATH: process.env.PATH,
            FLOW8_ADMIN_PASSWORD: CANARY_CLI,
            FLOW8_CERTS_DIR: env.certsDir,
            FLOW8_CA_FILE: env.caFile,
          },
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { tenantId: string; slug: string; adminUserId: string };
    expect(out).toEqual({
      tenantId: expect.stringMatching(/^ten_/),
      slug: s,
      adminUserId: expect.stringMatching(/^usr_/),
    });
    const { rows } = await auth.db.admin.query<{ tenant_id: string; role: string }>(
      'SELECT tenant_id, role FROM users WHERE id = $1',
      [out.adminUserId],
    );
    expect(rows).toEqual([{ tenant_id: out.tenantId, role: 'admin' }]);
    expect(run.stdout + run.stderr).not.toContain(CANARY_CLI);
  });
});

describe('users of a company (/v1/users)', () => {
  let acme: Created;

  beforeAll(async () => {
    acme = await newCompany('users-acme');
  });

  test('an Admin creates a user; it reads back without any password material, and its event carries no e-mail', async () => {
    const res = await users(acme.tenant.id, 'admin', {
      method: 'POST',
      body: { email: 'Designer@Users-Acme.test', password: CANARY_USER, role: 'flow_designer' },
    });
    expect(res.status).toBe(201);
    const created = res.json<UserView>();
    expect(Object.keys(created).sort()).toEqual(['createdAt', 'email', 'id', 'role', 'updatedAt']);
    expect(created).toMatchObject({ email: 'designer@users-acme.test', role: 'flow_designer' });

    const got = await users(acme.tenant.id, 'admin', { path: `/${created.id}` });
    expect(got.status).toBe(200);
    expect(got.json()).toEqual(created);
    const list = await users(acme.tenant.id, 'admin');
    expect(list.status).toBe(200);
    expect(list.json<{ items: UserView[] }>().items.map((u) => u.id)).toEqual([acme.admin.id, created.id]);
    for (const r of [res, got, list]) expect(r.body).not.toMatch(/password|hash|\$2[aby]\$/i);

    const stored = await auth.db.admin.query<{ password_hash: string }>(
      'SELECT password_hash FROM users WHERE id = $1',
      [created.id],
    );
    expect(stored.rows[0]!.password_hash).toMatch(/^\$2b\$10\$/);

    const events = (await outboxRows(acme.tenant.id)).filter((r) => r.value.toString('utf8').includes(created.id));
    expect(events).toHaveLength(1);
    const event = JSON.parse(events[0]!.value.toString('utf8')) as { payload: unknown; actor: unknown };
    expect(event.payload).toEqual({ userId: created.id, role: 'flow_designer' });
    expect(event.actor).toEqual({ type: 'user', id: 'usr_actor', ip: '203.0.113.7' });
    expect(events[0]!.value.toString('utf8')).not.toContain('designer@');
  });

  test('the same e-mail address twice in one company (any case) is a 409', async () => {
    const body = { email: 'twice@users-acme.test', password: `double-entry-${tag}-pw`, role: 'viewer' };
    expect((await users(acme.tenant.id, 'admin', { method: 'POST', body })).status).toBe(201);
    const again = await users(acme.tenant.id, 'admin', {
      method: 'POST',
      body: { ...body, email: 'TWICE@users-acme.test' },
    });
    expect(again.status).toBe(409);
    expect(again.json()).toMatchObject({ error: { code: 'CONFLICT' } });
  });

  test.each([
    ['a common password', CANARY_WEAK, /too common/],
    ['a short password', 'Tr0ub4dor&3', /at least 12/],
    ['the e-mail name part', 'weakling-is-my-name-42', /name part/],
  ])('%s is refused with 400 and never echoed', async (_label, password, reason) => {
    const res = await users(acme.tenant.id, 'admin', {
      method: 'POST',
      body: { email: 'weakling@users-acme.test', password, role: 'viewer' },
    });
    expect(res.status).toBe(400);
    expect(res.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(reason),
    });
    expect(res.body).not.toContain(password);
    expect(
      (await auth.db.admin.query('SELECT 1 FROM users WHERE email = $1', ['weakling@users-acme.test'])).rowCount,
    ).toBe(0);
  });

  describe.each(NON_ADMIN)('role %s', (role) => {
    test('may not create, list or read users (403), and creates nothing', async () => {
      const email = `by-${role}@users-acme.test`;
      const create = await users(acme.tenant.id, role, {
        method: 'POST',
        body: { email, password: `by-a-${role}-${tag}-pw`, role: 'admin' },
      });
      expect(create.status).toBe(403);
      expect(create.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
      expect((await users(acme.tenant.id, role)).status).toBe(403);
      expect((await users(acme.tenant.id, role, { path: `/${acme.admin.id}` })).status).toBe(403);
      expect((await auth.db.admin.query('SELECT 1 FROM users WHERE email = $1', [email])).rowCount).toBe(0);
    });
  });

  test('the operator certificate is not a tenant principal: /v1/users refuses it, even with a valid token', async () => {
    const res = await auth.call('GET', '/v1/users', {
      cert: 'operator',
      principal: { tenantId: acme.tenant.id, id: 'usr_actor', role: 'admin' },
    });
    expect(res.status).toBe(403);
  });

  test('the old x-flow8-* principal headers no longer authenticate anybody (401)', async () => {
    const res = await auth.call('GET', '/v1/users', {
      headers: {
        'x-flow8-tenant-id': acme.tenant.id,
        'x-flow8-actor-type': 'user',
        'x-flow8-actor-id': 'usr_actor',
        'x-flow8-actor-role': 'admin',
      },
    });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
  });
});

describe('isolation between companies', () => {
  let a: Created;
  let b: Created;
  const aUsers: string[] = [];
  const bUsers: string[] = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([newCompany('iso-a'), newCompany('iso-b')]);
    aUsers.push(a.admin.id);
    bUsers.push(b.admin.id);
    for (const [company, ids] of [
      [a, aUsers],
      [b, bUsers],
    ] as const) {
      for (const n of [1, 2, 3]) {
        const res = await users(company.tenant.id, 'admin', {
          method: 'POST',
          body: { email: `member${n}@${company.tenant.slug}.test`, password: `member-${n}-${tag}-pw`, role: 'viewer' },
        });
        expect(res.status).toBe(201);
        ids.push(res.json<UserView>().id);
      }
    }
  });

  test("A's Admin asking for B's user gets 404, exactly as for a user that does not exist", async () => {
    const other = await users(a.tenant.id, 'admin', { path: `/${bUsers[1]}` });
    const missing = await users(a.tenant.id, 'admin', { path: '/usr_00000000000000000000000000' });
    expect(other.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(other.json<{ error: { code: string; message: string } }>().error.message).toBe(
      missing.json<{ error: { code: string; message: string } }>().error.message,
    );
    expect(other.body).not.toContain(b.tenant.slug);
  });

  test("paging through A's list yields exactly A's users, never B's", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const q: string = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await users(a.tenant.id, 'admin', { path: q });
      expect(res.status).toBe(200);
      const body = res.json<{ items: UserView[]; nextCursor: string | null }>();
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...body.items.map((u) => u.id));
      cursor = body.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(aUsers);
    expect(seen.some((id) => bUsers.includes(id))).toBe(false);
  });

  test('the runtime role sees only the tenant in context, even with no WHERE clause, and cannot write into another tenant', async () => {
    const seen = await withTransaction(auth.db.app, async (tx) => {
      await setTenant(tx, a.tenant.id);
      const usersSeen = await tx.query<{ id: string; tenant_id: string }>('SELECT * FROM users');
      const tenantsSeen = await tx.query<{ id: string }>('SELECT * FROM tenants');
      return { users: usersSeen.rows, tenants: tenantsSeen.rows };
    });
    expect(seen.users.map((u) => u.id).sort()).toEqual([...aUsers].sort());
    expect(seen.tenants.map((t) => t.id)).toEqual([a.tenant.id]);

    // No tenant context at all: nothing.
    expect((await auth.db.app.query('SELECT * FROM users')).rowCount).toBe(0);
    expect((await auth.db.app.query('SELECT * FROM tenants')).rowCount).toBe(0);

    // Writing a row for B while acting as A violates the policy.
    await expect(
      withTransaction(auth.db.app, async (tx) => {
        await setTenant(tx, a.tenant.id);
        await tx.query(
          `INSERT INTO users (id, tenant_id, email, role, password_hash) VALUES ($1, $2, 'x@evil.test', 'admin', $3)`,
          ['usr_0000000000000000000000000z', b.tenant.id, `$2b$10$${'a'.repeat(53)}`],
        );
      }),
    ).rejects.toThrow(/row-level security/);
    // Updating without a WHERE clause while acting as A touches A's rows only; B's stay as they were.
    const touched = await withTransaction(auth.db.app, async (tx) => {
      await setTenant(tx, a.tenant.id);
      const r = await tx.query(`UPDATE users SET updated_at = updated_at`);
      return r.rowCount;
    });
    expect(touched).toBe(aUsers.length);
    // The runtime role may never delete a user (removal is a soft delete) nor change an id or tenant.
    for (const sql of [
      'DELETE FROM users',
      `UPDATE users SET tenant_id = '${b.tenant.id}'`,
      'UPDATE users SET id = id',
    ]) {
      await expect(
        withTransaction(auth.db.app, async (tx) => {
          await setTenant(tx, a.tenant.id);
          await tx.query(sql);
        }),
      ).rejects.toThrow(/permission denied/);
    }
  });
});

describe('secrets never leak', () => {
  test('no planted password appears in the outbox, on the Kafka topic or in the service log', async () => {
    // Everything created so far has been relayed.
    await eventually(
      async () => (await auth.db.admin.query('SELECT 1 FROM outbox WHERE sent_at IS NULL')).rowCount === 0,
      {
        what: 'the outbox to drain',
        timeoutMs: 30_000,
      },
    );
    const { rows } = await auth.db.admin.query<{ value: Buffer; headers: unknown }>(
      'SELECT value, headers FROM outbox',
    );
    expect(rows.length).toBeGreaterThanOrEqual(10);
    const outboxText = rows.map((r) => r.value.toString('utf8') + JSON.stringify(r.headers)).join('\n');

    const messages = await readTopic(testKafka(), eventsTopic('identity', auth.prefix), {
      expect: rows.length,
      timeoutMs: 20_000,
    });
    expect(messages.length).toBeGreaterThanOrEqual(rows.length);
    const topicText = messages.map((m) => `${m.value?.toString('utf8') ?? ''}${JSON.stringify(m.headers)}`).join('\n');

    const logText = auth.logText();
    expect(logText).toContain('request completed'); // the capture works
    for (const canary of CANARIES) {
      expect(outboxText).not.toContain(canary);
      expect(topicText).not.toContain(canary);
      expect(logText).not.toContain(canary);
    }
    // No e-mail address on the bus either.
    expect(topicText).not.toMatch(/@[a-z0-9-]+\.test/);
  });
});
