// What the audit-ingest process can do to the ledger with the only database role it holds (the
// runtime role; the owner's URL goes to the migration step alone, see scripts/lib/launch.sh).
// It tries what the owner could: switch the immutability triggers off, drop or detach a month of
// entries, and rewrite a chain's head to hide its newest entries.
import { buildEvent, newId, type AnyEvent } from '@flow8/contracts';
import { PgError, withTenant, withTransaction } from '@flow8/db';
import { freshDatabase, pgRefusal, type TestDatabase } from '@flow8/testkit';
import { appendEvents } from '../src/features/ledger/ledger.repo';
import { AUDIT_MIGRATIONS } from './harness';

function userCreated(tenantId: string): AnyEvent {
  const userId = newId('usr');
  return buildEvent({
    type: 'identity.user.created',
    tenantId,
    actor: { type: 'user', id: 'usr_admin', ip: null },
    resource: { type: 'user', id: userId },
    payload: { userId, role: 'viewer' },
  });
}

describe('the audit runtime role against the ledger', () => {
  let db: TestDatabase;
  const tenant = newId('ten');
  const append = (n: number) =>
    withTransaction(db.app, (c) =>
      appendEvents(
        c,
        new Map([[tenant, Array.from({ length: n }, () => userCreated(tenant))]]),
        new Date().toISOString(),
      ),
    );
  const head = async () =>
    (
      await db.admin.query<{ seq: string; hash: Buffer }>('SELECT seq, hash FROM ledger_heads WHERE tenant_id = $1', [
        tenant,
      ])
    ).rows[0]!;
  const asTenant = (sql: string, args: unknown[] = []) => withTenant(db.app, tenant, (tx) => tx.query(sql, args));

  beforeAll(async () => {
    db = await freshDatabase('AUDIT', AUDIT_MIGRATIONS);
    await append(5);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('cannot switch the immutability triggers off', async () => {
    for (const sql of [
      'ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_immutable',
      'ALTER TABLE ledger_entries DISABLE TRIGGER ALL',
      'ALTER TABLE ledger_sequence DISABLE TRIGGER USER',
      'ALTER TABLE ledger_heads DISABLE TRIGGER ledger_heads_forward_only',
    ]) {
      expect({ sql, code: await pgRefusal(asTenant(sql)) }).toEqual({ sql, code: PgError.INSUFFICIENT_PRIVILEGE });
    }
  });

  it('cannot drop, detach or truncate a month of entries, and still creates the coming months', async () => {
    const { rows } = await db.admin.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'ledger_entries'::regclass ORDER BY 1`,
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const { name } of rows) {
      for (const sql of [
        `DROP TABLE ${name}`,
        `ALTER TABLE ledger_entries DETACH PARTITION ${name}`,
        `TRUNCATE ${name}`,
      ]) {
        expect({ sql, code: await pgRefusal(asTenant(sql)) }).toEqual({ sql, code: PgError.INSUFFICIENT_PRIVILEGE });
      }
    }
    // The daily job needs no owner: a narrow SECURITY DEFINER function creates the months ahead.
    const made = await db.app.query<{ n: number }>('SELECT ledger_ensure_partitions(6) AS n');
    expect(made.rows[0]!.n).toBeGreaterThan(0);
    expect((await db.admin.query('SELECT count(*) FROM ledger_entries WHERE tenant_id = $1', [tenant])).rows).toEqual([
      { count: '5' },
    ]);
  });

  it("cannot rewrite a chain's head: not back to hide entries, not to a foreign hash, not away", async () => {
    const before = await head();
    expect(before.seq).toBe('5');
    const third = (
      await db.admin.query<{ hash: Buffer }>('SELECT hash FROM ledger_entries WHERE tenant_id = $1 AND seq = 3', [
        tenant,
      ])
    ).rows[0]!.hash;
    const attempts: Array<[string, unknown[]]> = [
      // Truncation: the head moved back to entry 3, consistent with the chain up to there.
      ['UPDATE ledger_heads SET seq = 3, hash = $2 WHERE tenant_id = $1', [tenant, third]],
      // A hash that is not the chain's.
      ['UPDATE ledger_heads SET hash = $2 WHERE tenant_id = $1', [tenant, Buffer.alloc(32, 1)]],
      ['UPDATE ledger_heads SET seq = 6 WHERE tenant_id = $1', [tenant]],
      ['DELETE FROM ledger_heads WHERE tenant_id = $1', [tenant]],
      ['TRUNCATE ledger_heads', []],
    ];
    for (const [sql, args] of attempts) {
      expect({ sql, code: await pgRefusal(asTenant(sql, args)) }).toEqual({
        sql,
        code: PgError.INSUFFICIENT_PRIVILEGE,
      });
    }
    // A new chain cannot start anywhere but at the genesis.
    const other = newId('ten');
    expect(
      await pgRefusal(
        withTenant(db.app, other, (tx) =>
          tx.query('INSERT INTO ledger_heads (tenant_id, seq, hash) VALUES ($1, 7, $2)', [other, third]),
        ),
      ),
    ).toBe(PgError.INSUFFICIENT_PRIVILEGE);
    expect(await head()).toEqual(before);

    // Appending still moves the head forward, to the new last entry.
    await append(2);
    const after = await head();
    const last = (
      await db.admin.query<{ hash: Buffer }>('SELECT hash FROM ledger_entries WHERE tenant_id = $1 AND seq = 7', [
        tenant,
      ])
    ).rows[0]!.hash;
    expect(after).toEqual({ seq: '7', hash: last });
  });
});
