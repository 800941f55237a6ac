// The ledger's security promises, each attacked for real: immutability for the app role,
// tamper detection (online and offline) for a superuser who edits, deletes or reorders rows,
// tenant segregation of query/export/verify, dead-lettering of bad input, audited reads and
// signed checkpoints.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createPublisher, type Publisher } from '@flow8/bus';
import { buildEvent, dlqTopic, eventsTopic, newId, type DeadLetter } from '@flow8/contracts';
import { toBase64 } from '@flow8/crypto';
import { setTenant, withTransaction } from '@flow8/db';
import { eventually, httpsRequest, readTopic, testIdentityKey, testKafka } from '@flow8/testkit';
import { startAudit } from './harness';

const run = promisify(execFile);
type OfflineResult = { ok: boolean; firstBadSeq: number | null; reason: string | null; checkpointsVerified: number };
const repoRoot = resolve(process.cwd());

function userCreated(tenantId: string, role: 'viewer' | 'admin' = 'viewer') {
  const userId = newId('usr');
  return buildEvent({
    type: 'identity.user.created',
    tenantId,
    actor: { type: 'user', id: 'usr_admin', ip: '198.51.100.4' },
    resource: { type: 'user', id: userId },
    payload: { userId, role },
  });
}

describe('audit ledger', () => {
  let audit: Awaited<ReturnType<typeof startAudit>>;
  let publisher: Publisher;
  const A = newId('ten');
  const B = newId('ten');
  const headersFor = (tenantId: string) => audit.as(tenantId);
  const api = (path: string, tenantId: string, method = 'GET') =>
    httpsRequest(`${audit.url}${path}`, { as: 'testkit', headers: headersFor(tenantId), method });

  async function publish(events: ReturnType<typeof userCreated>[]) {
    await publisher.publish(
      events.map((e) => ({
        topic: eventsTopic('identity', audit.prefix),
        key: e.tenantId,
        value: Buffer.from(JSON.stringify(e)),
        headers: {},
      })),
    );
  }

  async function count(tenantId?: string): Promise<number> {
    const r = await audit.db.admin.query<{ n: string }>(
      `SELECT count(*) AS n FROM ledger_entries ${tenantId ? 'WHERE tenant_id = $1' : ''}`,
      tenantId ? [tenantId] : [],
    );
    return Number(r.rows[0]!.n);
  }

  async function exportFor(tenantId: string): Promise<string> {
    const res = await api('/v1/audit/export?format=ndjson', tenantId);
    expect(res.status).toBe(200);
    return res.body;
  }

  async function offlineVerify(ndjson: string, publicKey: Uint8Array, keptCheckpoints?: string) {
    const dir = mkdtempSync(join(tmpdir(), 'flow8-export-'));
    const file = join(dir, 'export.ndjson');
    writeFileSync(file, ndjson);
    const extra: string[] = [];
    if (keptCheckpoints !== undefined) {
      writeFileSync(join(dir, 'kept.json'), keptCheckpoints);
      extra.push('--checkpoints', join(dir, 'kept.json'));
    }
    try {
      const { stdout } = await run(
        join(repoRoot, 'node_modules/.bin/tsx'),
        [
          join(repoRoot, 'packages/ledger/src/cli/verify.ts'),
          '--export',
          file,
          '--public-key',
          toBase64(publicKey),
          ...extra,
          '--json',
        ],
        { cwd: repoRoot },
      );
      return { code: 0, result: JSON.parse(stdout) as OfflineResult };
    } catch (e) {
      const err = e as { code: number; stdout: string };
      return { code: err.code, result: JSON.parse(err.stdout) as OfflineResult };
    }
  }

  beforeAll(async () => {
    audit = await startAudit();
    publisher = createPublisher(testKafka('ledger-test', 'auth'));
    await publish([
      ...Array.from({ length: 12 }, () => userCreated(A)),
      ...Array.from({ length: 5 }, () => userCreated(B)),
    ]);
    await eventually(async () => (await count(A)) === 12 && (await count(B)) === 5, {
      what: 'ledger rows for A and B',
    });
  });

  afterAll(async () => {
    await publisher?.disconnect();
    await audit?.stop();
    await audit?.db.drop();
  });

  describe('immutability for the service role', () => {
    test.each([
      ['UPDATE', `UPDATE ledger_entries SET event_type = 'x'`],
      ['DELETE', 'DELETE FROM ledger_entries'],
      ['TRUNCATE', 'TRUNCATE ledger_entries'],
      ['UPDATE sequence', 'UPDATE ledger_sequence SET seq = seq + 100'],
      ['DELETE checkpoints', 'DELETE FROM ledger_checkpoints'],
    ])('%s is refused', async (_name, sql) => {
      await expect(
        withTransaction(audit.db.app, async (c) => {
          await setTenant(c, A);
          await c.query(sql);
        }),
      ).rejects.toMatchObject({ code: '42501' });
      expect(await count(A)).toBeGreaterThanOrEqual(12);
    });

    test('even the table owner cannot UPDATE or DELETE: the triggers refuse', async () => {
      // FORCE row-level security binds the owner too, so it acts inside a tenant's context.
      for (const sql of [
        `UPDATE ledger_entries SET event_type = 'x'`,
        'DELETE FROM ledger_entries',
        'TRUNCATE ledger_entries',
      ]) {
        await expect(
          withTransaction(audit.db.owner, async (c) => {
            await setTenant(c, A);
            await c.query(sql);
          }),
        ).rejects.toThrow(/append-only/);
      }
      expect(await count(A)).toBeGreaterThanOrEqual(12);
    });

    test('the service role sees only the tenant of its transaction, even without a WHERE clause', async () => {
      const rows = await withTransaction(audit.db.app, async (c) => {
        await setTenant(c, B);
        return (await c.query<{ tenant_id: string }>('SELECT tenant_id FROM ledger_entries')).rows;
      });
      expect(rows).toHaveLength(5);
      expect(new Set(rows.map((r) => r.tenant_id))).toEqual(new Set([B]));
      const none = await audit.db.app.query('SELECT * FROM ledger_entries');
      expect(none.rows).toHaveLength(0);
    });
  });

  describe('tenant segregation', () => {
    test('query, export and verify of tenant B contain nothing of tenant A', async () => {
      const q = await api('/v1/audit/events?limit=500', B);
      expect(q.status).toBe(200);
      const items = q.json<{ items: Array<{ resource: { id: string } }> }>().items;
      expect(items.length).toBeGreaterThanOrEqual(5);
      expect(q.body).not.toContain(A);
      const exported = await exportFor(B);
      expect(exported).not.toContain(A);
      expect(Buffer.from(exported).toString('base64')).not.toContain(Buffer.from(A).toString('base64'));
      const v = await api('/v1/audit/verify', B);
      expect(v.json()).toMatchObject({ ok: true });
      expect(v.json<{ checked: number }>().checked).toBeLessThan(12);
    });

    test('a caller without a client certificate, or with one not allowed, is refused', async () => {
      const anon = await httpsRequest(`${audit.url}/v1/audit/events`, { headers: headersFor(A) }).catch(
        (e: Error) => e,
      );
      // Refused at the TLS handshake (no certificate), so there is no HTTP answer at all.
      expect((anon as { status?: number }).status).toBeUndefined();
      expect((anon as Error).message).toMatch(/certificate|alert|socket|ECONNRESET/i);
      const wrong = await httpsRequest(`${audit.url}/v1/audit/events`, { as: 'flow-engine', headers: headersFor(A) });
      expect(wrong.status).toBe(403);
    });
  });

  describe('who may read', () => {
    test.each([
      ['viewer', 200],
      ['admin', 200],
      ['executor', 403],
      ['flow_designer', 403],
    ] as const)('a %s gets %i', async (role, status) => {
      const res = await httpsRequest(`${audit.url}/v1/audit/events?limit=1`, {
        as: 'testkit',
        headers: audit.as(A, { role }),
      });
      expect(res.status).toBe(status);
    });

    // An API key acts with its owner's role (the gateway's identity token carries it) and its own scopes.
    const key = (scopes: string[], role: 'admin' | 'viewer' | 'executor' = 'viewer') =>
      audit.identity.header(
        { tenantId: A, type: 'api_key', id: 'key_x', role, scopes, ownerId: 'usr_owner' },
        'audit-ingest',
      );

    test('an API key needs the audit:read scope', async () => {
      expect(
        (await httpsRequest(`${audit.url}/v1/audit/verify`, { as: 'testkit', headers: key(['audit:read']) })).status,
      ).toBe(200);
      expect(
        (await httpsRequest(`${audit.url}/v1/audit/verify`, { as: 'testkit', headers: key(['flows:execute']) })).status,
      ).toBe(403);
    });

    test('a checkpoint needs audit:checkpoint through @flow8/authz: an API key without it is refused, an Admin may', async () => {
      const post = (headers: Record<string, string>) =>
        httpsRequest(`${audit.url}/v1/audit/checkpoints`, { as: 'testkit', method: 'POST', headers });
      const checkpoints = async () => (await audit.svc.checkpoints.list(A)).length;
      const before = await checkpoints();
      // Before the decision went through authz, ANY API key could create one; these were 201/200.
      for (const headers of [
        key(['audit:read']),
        key(['audit:read', 'flows:execute'], 'admin'),
        key(['audit:checkpoint'], 'viewer'),
      ]) {
        const res = await post(headers);
        expect(res.status).toBe(403);
        expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'FORBIDDEN' } });
      }
      // Viewers read the log but may not have it signed on demand.
      expect((await post(audit.as(A, { role: 'viewer' }))).status).toBe(403);
      expect(await checkpoints()).toBe(before);
      // An Admin may, and so may an Admin's key that carries the scope.
      expect([200, 201]).toContain((await post(audit.as(A, { role: 'admin' }))).status);
      expect([200, 201]).toContain((await post(key(['audit:checkpoint'], 'admin'))).status);
    });

    test('stated headers without a token, a token for another service, or from an untrusted key are refused', async () => {
      const stated = { 'x-flow8-tenant-id': A, 'x-flow8-actor-type': 'user', 'x-flow8-actor-id': 'usr_x' };
      expect((await httpsRequest(`${audit.url}/v1/audit/events`, { as: 'testkit', headers: stated })).status).toBe(401);
      const forAuth = audit.identity.header({ tenantId: A, id: 'usr_x', role: 'admin' }, 'auth');
      expect((await httpsRequest(`${audit.url}/v1/audit/events`, { as: 'testkit', headers: forAuth })).status).toBe(
        401,
      );
      const rogue = testIdentityKey().header({ tenantId: A, id: 'usr_x', role: 'admin' }, 'audit-ingest');
      expect((await httpsRequest(`${audit.url}/v1/audit/events`, { as: 'testkit', headers: rogue })).status).toBe(401);
    });

    test("a company's principal cannot read another company's log by naming it", async () => {
      // The tenant comes from the signed identity only; B's admin sees only B.
      const res = await httpsRequest(`${audit.url}/v1/audit/events?limit=500`, { as: 'testkit', headers: audit.as(B) });
      expect(res.body).not.toContain(A);
    });
  });

  describe('reads are audited', () => {
    test('a query leaves an audit.log.queried entry with the actor and IP', async () => {
      const before = await count(A);
      await api('/v1/audit/events?type=identity.user.created&limit=3', A);
      const entry = await eventually(
        async () => {
          const r = await audit.db.admin.query<{ canonical: Buffer }>(
            `SELECT canonical FROM ledger_entries WHERE tenant_id = $1 AND event_type = 'audit.log.queried'`,
            [A],
          );
          return r.rows
            .map((row) => JSON.parse(row.canonical.toString('utf8')) as { payload: { filters: { type?: string } } })
            .find((e) => e.payload.filters.type === 'identity.user.created');
        },
        { what: 'audit.log.queried entry' },
      );
      expect(entry).toMatchObject({
        actor: { type: 'user', id: 'usr_compliance', ip: '192.0.2.10' },
        payload: { filters: { type: 'identity.user.created' }, returned: 3 },
      });
      expect(await count(A)).toBeGreaterThan(before);
    });
  });

  describe('bad input', () => {
    test('malformed and contract-violating messages are dead-lettered with a reason; later events still land', async () => {
      const topic = eventsTopic('identity', audit.prefix);
      const invalid = { ...userCreated(A), payload: { userId: 'nope', role: 'root' } };
      const unknown = { ...userCreated(A), type: 'identity.thing.exploded' };
      await publisher.publish([
        { topic, key: A, value: Buffer.from('{"this is": not json'), headers: {} },
        { topic, key: A, value: Buffer.from(JSON.stringify(invalid)), headers: {} },
        { topic, key: A, value: Buffer.from(JSON.stringify(unknown)), headers: {} },
      ]);
      const good = userCreated(A);
      await publish([good]);
      const dead = await readTopic(testKafka('ledger-test-dlq'), dlqTopic(topic), { expect: 3 });
      const letters = dead.map((m) => JSON.parse(m.value!.toString('utf8')) as DeadLetter);
      expect(letters.map((l) => l.reason).sort()).toEqual([
        'CONTRACT_VIOLATION',
        'MALFORMED_JSON',
        'UNKNOWN_EVENT_TYPE',
      ]);
      for (const l of letters) {
        expect(l.errors.length).toBeGreaterThan(0);
        expect(l.source.topic).toBe(topic);
        expect(l.valueBase64).not.toBeNull();
      }
      // The original bytes are kept so nothing is lost.
      expect(letters.map((l) => Buffer.from(l.valueBase64!, 'base64').toString())).toContain('{"this is": not json');
      await eventually(async () => {
        const r = await audit.db.admin.query('SELECT 1 FROM ledger_sequence WHERE event_id = $1', [good.id]);
        return r.rows.length === 1;
      });
      const bad = await audit.db.admin.query('SELECT 1 FROM ledger_sequence WHERE event_id = ANY($1::uuid[])', [
        [invalid.id, unknown.id],
      ]);
      expect(bad.rows).toHaveLength(0);
    });
  });

  describe('an event id replayed under another tenant', () => {
    test('is dead-lettered, never enters the other chain, and does not stall the partition', async () => {
      const victim = userCreated(A);
      await publish([victim]);
      await eventually(async () => {
        const r = await audit.db.admin.query('SELECT 1 FROM ledger_sequence WHERE event_id = $1', [victim.id]);
        return r.rows.length === 1;
      });
      // The same id, claimed by tenant B (same key, same partition as B's other events).
      const replay = { ...userCreated(B), id: victim.id };
      const after = userCreated(B);
      await publish([replay, after]);
      const topic = eventsTopic('identity', audit.prefix);
      const dead = await eventually(
        async () => {
          const msgs = await readTopic(testKafka('ledger-test-replay'), dlqTopic(topic), { timeoutMs: 3000 });
          const letters = msgs.map((m) => JSON.parse(m.value!.toString('utf8')) as DeadLetter);
          const mine = letters.filter((l) => l.reason === 'PROCESSING_FAILED');
          return mine.length > 0 ? mine : undefined;
        },
        { what: 'the replayed event in the DLQ', timeoutMs: 60_000 },
      );
      expect(dead[0]!.errors.join(' ')).toMatch(/different tenant/);
      await eventually(async () => {
        const r = await audit.db.admin.query('SELECT tenant_id FROM ledger_sequence WHERE event_id = $1', [after.id]);
        return r.rows.length === 1;
      });
      const owner = await audit.db.admin.query<{ tenant_id: string }>(
        'SELECT tenant_id FROM ledger_entries WHERE event_id = $1',
        [victim.id],
      );
      expect(owner.rows).toEqual([{ tenant_id: A }]);
      expect((await api('/v1/audit/verify', B)).json()).toMatchObject({ ok: true });
    });
  });

  describe('checkpoints and offline verification', () => {
    test('an on-demand checkpoint is signed and an export verifies offline with the public key only', async () => {
      const created = await api('/v1/audit/checkpoints', A, 'POST');
      expect(created.status).toBe(201);
      const list = await api('/v1/audit/checkpoints', A);
      const body = list.json<{ items: Array<{ seq: number }>; publicKeys: Array<{ publicKey: string }> }>();
      expect(body.items.length).toBeGreaterThan(0);
      expect(body.publicKeys[0]!.publicKey).toBe(toBase64(audit.svc.keyPair.publicKey));

      const ndjson = await exportFor(A);
      const good = await offlineVerify(ndjson, audit.svc.keyPair.publicKey);
      expect(good).toMatchObject({ code: 0, result: { ok: true, firstBadSeq: null } });
      // Another key: the checkpoint signature is not trusted.
      const other = await offlineVerify(ndjson, new Uint8Array(32).fill(7));
      expect(other.code).toBe(1);
    });

    test('CSV export has one row per entry', async () => {
      const before = await count(B);
      const res = await api('/v1/audit/export?format=csv', B);
      // The export is itself audited: its entry may land (asynchronously, through Kafka) before or
      // after the export's snapshot, so the export holds every entry up to one more than before.
      const after = await count(B);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toContain('text/csv');
      const lines = res.body.trim().split('\r\n');
      expect(lines[0]!.split(',')[0]).toBe('seq');
      const seqs = lines.slice(1).map((l) => Number(l.split(',')[0]));
      expect(seqs.length).toBeGreaterThanOrEqual(before);
      expect(seqs.length).toBeLessThanOrEqual(after);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    });
  });

  describe('tampering by a database superuser', () => {
    // The attacker has full access: triggers off for the session, RLS bypassed.
    async function asAttacker(sql: string, args: unknown[] = []) {
      await withTransaction(audit.db.admin, async (c) => {
        await c.query(`SET LOCAL session_replication_role = replica`);
        await c.query(sql, args);
      });
    }

    test('one altered byte is found online and offline at that seq', async () => {
      const T = newId('ten');
      await publish(Array.from({ length: 8 }, () => userCreated(T)));
      await eventually(async () => (await count(T)) === 8, { what: 'tenant T entries' });
      await api('/v1/audit/checkpoints', T, 'POST');
      const ok = await api('/v1/audit/verify', T);
      expect(ok.json()).toMatchObject({ ok: true, firstBadSeq: null });

      await asAttacker(
        `UPDATE ledger_entries SET canonical = overlay(canonical placing '\\x21'::bytea from 30 for 1) WHERE tenant_id = $1 AND seq = 5`,
        [T],
      );
      const online = await api('/v1/audit/verify', T);
      expect(online.json()).toMatchObject({ ok: false, firstBadSeq: 5 });
      const offline = await offlineVerify(await exportFor(T), audit.svc.keyPair.publicKey);
      expect(offline).toMatchObject({ code: 1, result: { ok: false, firstBadSeq: 5 } });
    });

    test('a deleted row is found at its seq', async () => {
      const T = newId('ten');
      await publish(Array.from({ length: 6 }, () => userCreated(T)));
      await eventually(async () => (await count(T)) === 6, { what: 'tenant T entries' });
      await asAttacker('DELETE FROM ledger_entries WHERE tenant_id = $1 AND seq = 3', [T]);
      expect((await api('/v1/audit/verify', T)).json()).toMatchObject({ ok: false, firstBadSeq: 3 });
      const offline = await offlineVerify(await exportFor(T), audit.svc.keyPair.publicKey);
      expect(offline.result).toMatchObject({ ok: false, firstBadSeq: 3 });
    });

    test('two rows swapped (reordered) are found', async () => {
      const T = newId('ten');
      await publish(Array.from({ length: 6 }, () => userCreated(T)));
      await eventually(async () => (await count(T)) === 6, { what: 'tenant T entries' });
      // Swap the contents of seq 2 and 3, keeping the seq column: the order of events is rewritten.
      await asAttacker(
        `UPDATE ledger_entries e SET canonical = o.canonical, prev_hash = o.prev_hash, hash = o.hash
         FROM ledger_entries o WHERE e.tenant_id = $1 AND o.tenant_id = $1
         AND ((e.seq = 2 AND o.seq = 3) OR (e.seq = 3 AND o.seq = 2))`,
        [T],
      );
      const v = (await api('/v1/audit/verify', T)).json<{ ok: boolean; firstBadSeq: number }>();
      expect(v.ok).toBe(false);
      expect(v.firstBadSeq).toBe(2);
      const offline = await offlineVerify(await exportFor(T), audit.svc.keyPair.publicKey);
      expect(offline.result).toMatchObject({ ok: false, firstBadSeq: 2 });
    });

    test('a dropped partition shows as a gap', async () => {
      const T = newId('ten');
      await publish(Array.from({ length: 6 }, () => userCreated(T)));
      await eventually(async () => (await count(T)) === 6, { what: 'tenant T entries' });
      // The owner moves T's first entries into last month's partition (as if recorded then),
      // then drops that partition: no trigger fires on DROP.
      await withTransaction(audit.db.admin, async (c) => {
        await c.query(`SET LOCAL session_replication_role = replica`);
        await c.query(
          `UPDATE ledger_entries SET recorded_at = date_trunc('month', now()) - interval '1 day'
           WHERE tenant_id = $1 AND seq <= 3`,
          [T],
        );
        await c.query(`DO $$ DECLARE m date := (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date;
          BEGIN EXECUTE format('DROP TABLE ledger_entries_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM')); END $$`);
      });
      expect(await count(T)).toBe(3);
      const online = (await api('/v1/audit/verify', T)).json<{ ok: boolean; firstBadSeq: number; reason: string }>();
      expect(online).toMatchObject({ ok: false, firstBadSeq: 1 });
      expect(online.reason).toMatch(/gap/);
      const offline = await offlineVerify(await exportFor(T), audit.svc.keyPair.publicKey);
      expect(offline.result).toMatchObject({ ok: false, firstBadSeq: 1 });
    });

    test('the last rows cut off are found (the head and the checkpoint witness them)', async () => {
      const T = newId('ten');
      await publish(Array.from({ length: 5 }, () => userCreated(T)));
      await eventually(async () => (await count(T)) === 5, { what: 'tenant T entries' });
      await api('/v1/audit/checkpoints', T, 'POST');
      await asAttacker('DELETE FROM ledger_entries WHERE tenant_id = $1 AND seq >= 4', [T]);
      expect((await api('/v1/audit/verify', T)).json()).toMatchObject({ ok: false, firstBadSeq: 4 });
      const offline = await offlineVerify(await exportFor(T), audit.svc.keyPair.publicKey);
      expect(offline.result.ok).toBe(false);
    });
  });

  describe('search columns are covered by verification', () => {
    // The columns beside the hashed bytes are what searches use. A superuser who changes only
    // them must neither move an entry to someone else's results nor go unnoticed.
    async function tenantWithActors() {
      const T = newId('ten');
      const events = Array.from({ length: 5 }, (_, i) => {
        const e = userCreated(T);
        return { ...e, actor: { type: 'user' as const, id: `usr_actor${i + 1}`, ip: '198.51.100.4' } };
      });
      await publish(events);
      await eventually(async () => (await count(T)) === 5, { what: 'tenant T entries' });
      return { T, events };
    }
    const search = async (T: string, q: string) =>
      (await api(`/v1/audit/events?limit=100&${q}`, T)).json<{
        items: Array<{ seq: number; actor: { id: string }; resource: { id: string }; occurredAt: string }>;
      }>().items;
    async function bothVerifiers(T: string) {
      const online = (await api('/v1/audit/verify', T)).json<{ ok: boolean; firstBadSeq: number; reason: string }>();
      const offline = await offlineVerify(await exportFor(T), audit.svc.keyPair.publicKey);
      return { online, offline };
    }
    async function asAttacker(sql: string, args: unknown[]) {
      await withTransaction(audit.db.admin, async (c) => {
        await c.query(`SET LOCAL session_replication_role = replica`);
        await c.query(sql, args);
      });
    }

    test('actor_id changed: the entry is not attributed to the new actor, and both verifiers name its seq', async () => {
      const { T } = await tenantWithActors();
      await asAttacker(`UPDATE ledger_entries SET actor_id = 'usr_mallory' WHERE tenant_id = $1 AND seq = 3`, [T]);
      expect(await search(T, 'actorId=usr_mallory')).toEqual([]);
      for (const item of await search(T, 'actorId=usr_actor3')) expect(item.actor.id).toBe('usr_actor3');
      const { online, offline } = await bothVerifiers(T);
      expect(online).toMatchObject({ ok: false, firstBadSeq: 3 });
      expect(online.reason).toMatch(/indexed column actorId disagrees/);
      expect(offline).toMatchObject({ code: 1, result: { ok: false, firstBadSeq: 3 } });
      expect(offline.result.reason).toMatch(/indexed column actorId disagrees/);
    });

    test('resource_id changed: a search by the new id does not show it; both verifiers name its seq', async () => {
      const { T, events } = await tenantWithActors();
      await asAttacker(`UPDATE ledger_entries SET resource_id = 'usr_ghost' WHERE tenant_id = $1 AND seq = 2`, [T]);
      expect(await search(T, 'resourceId=usr_ghost')).toEqual([]);
      const real = await search(T, `resourceId=${events[0]!.resource.id}`);
      expect(real.map((i) => i.resource.id)).toEqual([events[0]!.resource.id]);
      const { online, offline } = await bothVerifiers(T);
      expect(online).toMatchObject({ ok: false, firstBadSeq: 2 });
      expect(offline.result).toMatchObject({ ok: false, firstBadSeq: 2 });
    });

    test('occurred_at moved: a time-window search does not show it in the wrong window; both verifiers name its seq', async () => {
      const { T } = await tenantWithActors();
      await asAttacker(
        `UPDATE ledger_entries SET occurred_at = '2001-01-01T12:00:00Z' WHERE tenant_id = $1 AND seq = 4`,
        [T],
      );
      expect(await search(T, 'from=2001-01-01T00:00:00.000Z&to=2001-01-02T00:00:00.000Z')).toEqual([]);
      const { online, offline } = await bothVerifiers(T);
      expect(online).toMatchObject({ ok: false, firstBadSeq: 4 });
      expect(online.reason).toMatch(/occurredAt/);
      expect(offline.result).toMatchObject({ ok: false, firstBadSeq: 4 });
    });
  });

  describe('truncation of the newest entries, head row rewritten to match', () => {
    test('an export carries the newest checkpoint and fails offline; with the stored checkpoints deleted too, a checkpoint kept outside still catches it', async () => {
      const T = newId('ten');
      await publish(Array.from({ length: 6 }, () => userCreated(T)));
      await eventually(async () => (await count(T)) === 6, { what: 'tenant T entries' });
      expect((await api('/v1/audit/checkpoints', T, 'POST')).status).toBe(201);
      // The auditor keeps the checkpoint list outside the system.
      const kept = (await api('/v1/audit/checkpoints', T)).body;
      expect(JSON.parse(kept)).toMatchObject({ items: [{ seq: 6 }] });
      const before = await offlineVerify(await exportFor(T), audit.svc.keyPair.publicKey);
      expect(before.result).toMatchObject({ ok: true, checkpointsVerified: 1 });

      // The owner cuts off entries 4.. and rewrites the head row so that everything agrees.
      await withTransaction(audit.db.admin, async (c) => {
        await c.query(`SET LOCAL session_replication_role = replica`);
        await c.query('DELETE FROM ledger_entries WHERE tenant_id = $1 AND seq >= 4', [T]);
        await c.query('DELETE FROM ledger_sequence WHERE tenant_id = $1 AND seq >= 4', [T]);
        await c.query(
          `UPDATE ledger_heads h SET seq = 3, hash = e.hash FROM ledger_entries e
           WHERE h.tenant_id = $1 AND e.tenant_id = $1 AND e.seq = 3`,
          [T],
        );
      });
      const cut = await offlineVerify(await exportFor(T), audit.svc.keyPair.publicKey);
      expect(cut).toMatchObject({ code: 1, result: { ok: false, firstBadSeq: 4 } });
      expect(cut.result.reason).toMatch(/truncated.*checkpoint covers seq 6/);
      expect((await api('/v1/audit/verify', T)).json()).toMatchObject({ ok: false });

      // New events chain on from the rewritten head, past the signed seq 6: the signer does not
      // take the head row's word and refuses to bless the rewrite with a new checkpoint.
      await publish(Array.from({ length: 4 }, () => userCreated(T)));
      await eventually(
        async () => {
          const r = await audit.db.admin.query<{ seq: string }>('SELECT seq FROM ledger_heads WHERE tenant_id = $1', [
            T,
          ]);
          return Number(r.rows[0]!.seq) > 6;
        },
        { what: 'the head past the signed seq' },
      );
      const refused = await api('/v1/audit/checkpoints', T, 'POST');
      expect(refused.status).toBe(409);
      expect(refused.json()).toMatchObject({ error: { code: 'CONFLICT' } });
      expect((await audit.svc.checkpoints.list(T)).map((c) => c.seq)).toEqual([6]);

      // The stored checkpoints go as well: only a checkpoint kept outside remains a witness.
      await withTransaction(audit.db.admin, async (c) => {
        await c.query(`SET LOCAL session_replication_role = replica`);
        await c.query('DELETE FROM ledger_checkpoints WHERE tenant_id = $1', [T]);
      });
      const ndjson = await exportFor(T);
      const alone = await offlineVerify(ndjson, audit.svc.keyPair.publicKey);
      expect(alone.result).toMatchObject({ ok: true, checkpointsVerified: 0 });
      const withKept = await offlineVerify(ndjson, audit.svc.keyPair.publicKey, kept);
      expect(withKept.code).toBe(1);
      expect(withKept.result.ok).toBe(false);
      // The chain has grown past 6 again since the cut: the kept checkpoint no longer matches seq 6.
      expect(withKept.result.firstBadSeq).toBe(6);
      expect(withKept.result.reason).toMatch(/checkpoint mismatch.*seq 6/);
    });
  });

  describe('a message the ledger cannot append never stalls its partition', () => {
    // Written with a plain producer to one partition, as a buggy or hostile producer would.
    async function produceRaw(topic: string, values: Array<{ key: string; value: string }>) {
      const producer = testKafka('ledger-test-raw', 'credential-vault').producer();
      await producer.connect();
      try {
        await producer.send({ topic, acks: -1, messages: values.map((v) => ({ ...v, partition: 0 })) });
      } finally {
        await producer.disconnect();
      }
    }
    function credentialUsed(tenantId: string, purpose: string) {
      return buildEvent({
        type: 'vault.credential.used',
        tenantId,
        actor: { type: 'service', id: 'flow-engine' },
        resource: { type: 'credential', id: newId('crd') },
        purpose,
        payload: {
          credentialId: newId('crd'),
          version: 1,
          integration: 'salesforce',
          scope: 'read',
          flowId: 'flw_1',
          executionId: 'exe_1',
          stepId: 'step_1',
          purpose,
        },
      });
    }
    async function lettersFor(topic: string, ids: string[]) {
      return eventually(
        async () => {
          const msgs = await readTopic(testKafka('ledger-test-poison'), dlqTopic(topic), { timeoutMs: 3000 });
          const letters = msgs
            .map((m) => JSON.parse(m.value!.toString('utf8')) as DeadLetter)
            .filter((l) =>
              ids.some((id) =>
                Buffer.from(l.valueBase64 ?? '', 'base64')
                  .toString()
                  .includes(id),
              ),
            );
          return letters.length >= ids.length ? letters : undefined;
        },
        { what: 'the poison messages in the DLQ', timeoutMs: 60_000 },
      );
    }
    const landed = async (id: string) =>
      (await audit.db.admin.query('SELECT 1 FROM ledger_sequence WHERE event_id = $1', [id])).rows.length === 1;

    test('a lone surrogate in a credential-use purpose is dead-lettered; other companies behind it land', async () => {
      const topic = eventsTopic('vault', audit.prefix);
      const X = newId('ten');
      const Y = newId('ten');
      const poison = credentialUsed(X, 'sync \ud800');
      const behind = [credentialUsed(Y, 'quarterly report'), credentialUsed(X, 'monthly sync')];
      // JSON.stringify writes the lone surrogate as the escape \ud800: valid JSON, not I-JSON.
      expect(JSON.stringify(poison)).toContain('\\ud800');
      await produceRaw(
        topic,
        [poison, ...behind].map((e) => ({ key: e.tenantId, value: JSON.stringify(e) })),
      );
      for (const e of behind)
        await eventually(() => landed(e.id), { what: `event of ${e.tenantId} behind the poison` });
      const [letter] = await lettersFor(topic, [poison.id]);
      expect(letter).toMatchObject({ reason: 'CONTRACT_VIOLATION', source: { topic, partition: 0 } });
      expect(letter!.errors.join(' ')).toMatch(/lone UTF-16 surrogate/);
      expect(await landed(poison.id)).toBe(false);
    });

    test('an event the database refuses (a NUL in an id) is dead-lettered after one retry; the rest of its batch lands', async () => {
      const topic = eventsTopic('vault', audit.prefix);
      const X = newId('ten');
      const Y = newId('ten');
      const before = credentialUsed(Y, 'before');
      const poison = { ...credentialUsed(X, 'nul'), resource: { type: 'credential', id: 'crd_\u0000x' } };
      const behind = [credentialUsed(Y, 'after'), credentialUsed(X, 'after')];
      await produceRaw(
        topic,
        [before, poison, ...behind].map((e) => ({ key: e.tenantId, value: JSON.stringify(e) })),
      );
      for (const e of [before, ...behind]) await eventually(() => landed(e.id), { what: `event ${e.id}` });
      const [letter] = await lettersFor(topic, [poison.id]);
      expect(letter).toMatchObject({ reason: 'PROCESSING_FAILED' });
      expect(letter!.errors.join(' ')).toMatch(/database cannot store this event \(SQLSTATE 22/);
      expect(await landed(poison.id)).toBe(false);
      expect((await api('/v1/audit/verify', X)).json()).toMatchObject({ ok: true });
    });

    test('a tenant whose stored chain conflicts (head row rewritten lower) holds up only its own events, after bounded retries', async () => {
      const topic = eventsTopic('vault', audit.prefix);
      const X = newId('ten');
      const Y = newId('ten');
      const first = [credentialUsed(X, 'one'), credentialUsed(X, 'two'), credentialUsed(X, 'three')];
      await produceRaw(
        topic,
        first.map((e) => ({ key: e.tenantId, value: JSON.stringify(e) })),
      );
      for (const e of first) await eventually(() => landed(e.id), { what: `event ${e.id}` });
      // The owner sets X's head back to seq 1: X's next entry (seq 2) collides with the stored one.
      // (With the head's forward-only trigger switched off, as only the owner can.)
      await withTransaction(audit.db.admin, async (c) => {
        await c.query(`SET LOCAL session_replication_role = replica`);
        await c.query(
          `UPDATE ledger_heads h SET seq = 1, hash = e.hash FROM ledger_entries e
           WHERE h.tenant_id = $1 AND e.tenant_id = $1 AND e.seq = 1`,
          [X],
        );
      });
      const stuck = credentialUsed(X, 'four');
      const behind = credentialUsed(Y, 'other company');
      await produceRaw(
        topic,
        [stuck, behind].map((e) => ({ key: e.tenantId, value: JSON.stringify(e) })),
      );
      await eventually(() => landed(behind.id), { what: "the other company's event behind it" });
      const [letter] = await lettersFor(topic, [stuck.id]);
      expect(letter).toMatchObject({ reason: 'PROCESSING_FAILED' });
      expect(letter!.errors.join(' ')).toMatch(/SQLSTATE 23505/);
      expect(await landed(stuck.id)).toBe(false);
    });

    test("an event of another domain's type on a topic is dead-lettered, not ledgered", async () => {
      // E.g. the identity service's certificate writing a vault event onto its own topic.
      const topic = eventsTopic('identity', audit.prefix);
      const X = newId('ten');
      const forged = credentialUsed(X, 'forged');
      const after = userCreated(X);
      await publisher.publish(
        [forged, after].map((e) => ({ topic, key: X, value: Buffer.from(JSON.stringify(e)), headers: {} })),
      );
      await eventually(() => landed(after.id), { what: 'the event behind the forged one' });
      const [letter] = await lettersFor(topic, [forged.id]);
      expect(letter).toMatchObject({ reason: 'CONTRACT_VIOLATION' });
      expect(letter!.errors.join(' ')).toMatch(/vault\.credential\.used does not belong on .*identity\.events/);
      expect(await landed(forged.id)).toBe(false);
    });
  });
});
