// The ingest stages each batch in a temporary table (one binary COPY) before appending it under
// row-level security. These tests attack what that must not change: staged rows are visible to
// no other session and outlive no transaction, the appended chain is byte-exact, and the
// runtime role — now allowed temporary tables — still cannot get around the ledger's triggers.
import { buildEvent, newId, type AnyEvent } from '@flow8/contracts';
import { withTransaction, type PoolClient } from '@flow8/db';
import { chainHash, decodeEntry, GENESIS_HASH } from '@flow8/ledger';
import { freshDatabase, type TestDatabase } from '@flow8/testkit';
import { appendEvents } from '../src/features/ledger/ledger.repo';
import { AUDIT_MIGRATIONS } from './harness';

function userCreated(tenantId: string): AnyEvent {
  const userId = newId('usr');
  return buildEvent({
    type: 'identity.user.created',
    tenantId,
    actor: { type: 'user', id: 'usr_admin', ip: '198.51.100.7' },
    resource: { type: 'user', id: userId },
    payload: { userId, role: 'viewer' },
  });
}

function batch(tenants: string[], perTenant: number): Map<string, AnyEvent[]> {
  return new Map(tenants.map((t) => [t, Array.from({ length: perTenant }, () => userCreated(t))]));
}

const recordedAt = () => new Date().toISOString();

async function stagedRows(client: PoolClient): Promise<number | 'absent'> {
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('pg_temp.ledger_stage')::text AS t`);
  if (exists.rows[0]!.t === null) return 'absent';
  const r = await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_temp.ledger_stage');
  return Number(r.rows[0]!.n);
}

describe('ledger staging table', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await freshDatabase('AUDIT', AUDIT_MIGRATIONS);
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function entries(tenantId: string) {
    const r = await db.admin.query<{
      seq: string;
      event_id: string;
      actor_id: string;
      canonical: Buffer;
      prev_hash: Buffer;
      hash: Buffer;
    }>(
      'SELECT seq, event_id, actor_id, canonical, prev_hash, hash FROM ledger_entries WHERE tenant_id = $1 ORDER BY seq',
      [tenantId],
    );
    return r.rows;
  }

  test('a staged batch lands byte-exact: contiguous seq, verbatim canonical bytes, chained hashes', async () => {
    const [a, b] = [newId('ten'), newId('ten')];
    const events = batch([a, b], 30);
    // Non-ASCII text travels as UTF-8 in the COPY and must come back unchanged.
    events.get(a)![0]!.actor.id = 'usr_ünïcødé_😀';
    await withTransaction(db.app, (c) => appendEvents(c, events, recordedAt()));
    // A second batch continues both chains from their heads.
    const more = batch([a, b], 5);
    await withTransaction(db.app, (c) => appendEvents(c, more, recordedAt()));

    for (const t of [a, b]) {
      const rows = await entries(t);
      const expected = [...events.get(t)!, ...more.get(t)!];
      expect(rows.map((r) => Number(r.seq))).toEqual(expected.map((_, i) => i + 1));
      expect(rows.map((r) => r.event_id)).toEqual(expected.map((e) => e.id));
      let prev: Uint8Array = GENESIS_HASH;
      for (const [i, r] of rows.entries()) {
        const entry = decodeEntry(r.canonical);
        expect(entry).toMatchObject({ tenantId: t, seq: i + 1, eventId: expected[i]!.id });
        expect(entry.actor.id).toBe(r.actor_id);
        expect(Buffer.from(r.prev_hash)).toEqual(Buffer.from(prev));
        expect(Buffer.from(r.hash)).toEqual(Buffer.from(chainHash(prev, r.canonical)));
        prev = r.hash;
      }
      const seqRows = await db.admin.query<{ n: string }>(
        'SELECT count(*) AS n FROM ledger_sequence WHERE tenant_id = $1',
        [t],
      );
      expect(Number(seqRows.rows[0]!.n)).toBe(expected.length);
    }
    expect((await entries(a))[0]!.actor_id).toBe('usr_ünïcødé_😀');
  });

  test('staged rows are gone when the transaction commits and when it rolls back', async () => {
    const client = await db.app.connect();
    try {
      const t = newId('ten');
      await client.query('BEGIN');
      await appendEvents(client, batch([t], 20), recordedAt());
      expect(await stagedRows(client)).toBe(20); // inside the transaction, for the INSERTs
      await client.query('COMMIT');
      expect(await stagedRows(client)).toBe(0);

      await client.query('BEGIN');
      await appendEvents(client, batch([t], 7), recordedAt());
      expect(await stagedRows(client)).toBe(7);
      await client.query('ROLLBACK');
      expect(await stagedRows(client)).toBe(0);
      expect(await entries(t)).toHaveLength(20);
    } finally {
      client.release();
    }
  });

  test('no other session can read a batch while it is staged, not even the same role', async () => {
    const [mine, other] = [await db.app.connect(), await db.app.connect()];
    try {
      const t = newId('ten');
      // A first batch creates (and commits) the staging table of this session.
      await mine.query('BEGIN');
      await appendEvents(mine, batch([t], 2), recordedAt());
      await mine.query('COMMIT');
      await mine.query('BEGIN');
      await appendEvents(mine, batch([t], 10), recordedAt());
      expect(await stagedRows(mine)).toBe(10);
      const schema = await mine.query<{ nspname: string }>(
        'SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()',
      );
      // The other session's own temporary schema has no such table, or an empty one of its own.
      expect(await stagedRows(other)).not.toBe(10);
      // Naming the staging session's table explicitly is refused by Postgres.
      await expect(other.query(`SELECT count(*) FROM ${schema.rows[0]!.nspname}.ledger_stage`)).rejects.toThrow(
        /temporary tables of other sessions|permission denied/,
      );
      await mine.query('COMMIT');
      expect(await entries(t)).toHaveLength(12);
    } finally {
      mine.release();
      other.release();
    }
  });

  test('the runtime role cannot switch the ledger triggers off, temporary tables or not', async () => {
    const t = newId('ten');
    await withTransaction(db.app, (c) => appendEvents(c, batch([t], 3), recordedAt()));
    const attempts = [
      // Disables every ordinary trigger for the session: superuser only.
      `SET session_replication_role = replica`,
      `ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_immutable`,
      `ALTER TABLE ledger_sequence DISABLE TRIGGER ALL`,
    ];
    for (const sql of attempts) await expect(db.app.query(sql)).rejects.toThrow(/permission denied|must be owner/);
    await expect(
      withTransaction(db.app, async (c) => {
        await c.query(`SELECT set_config('app.tenant_id', $1, true)`, [t]);
        await c.query(`CREATE TEMPORARY TABLE evil ON COMMIT DROP AS SELECT * FROM ledger_entries`);
        await c.query(`DELETE FROM ledger_entries WHERE seq IN (SELECT seq FROM evil)`);
      }),
    ).rejects.toThrow(/append-only|permission denied/);
    expect(await entries(t)).toHaveLength(3);
  });
});
