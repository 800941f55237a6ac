// Every service that embeds the outbox (auth, credential-vault, audit-ingest) keeps every
// company's events in one table until the relay has published them. The runtime role of each
// tries to read, re-publish or erase another company's events: it may only add its own. Only the
// relay's role reads the outbox. Real databases with the services' real roles and the bus's
// real migrations.
import { createOutbox, OUTBOX_MIGRATIONS_DIR } from '@flow8/bus';
import { buildEvent, newId } from '@flow8/contracts';
import { PgError, withTenant } from '@flow8/db';
import { freshDatabase, pgRefusal, type TestDatabase } from '@flow8/testkit';

const outbox = createOutbox();

function userCreated(tenantId: string) {
  const userId = newId('usr');
  return buildEvent({
    type: 'identity.user.created',
    tenantId,
    actor: { type: 'user', id: newId('usr'), ip: null },
    resource: { type: 'user', id: userId },
    payload: { userId, role: 'viewer' },
  });
}

describe.each(['AUTH', 'VAULT', 'AUDIT'] as const)('the %s runtime role and the outbox', (service) => {
  let db: TestDatabase;
  const a = newId('ten');
  const b = newId('ten');

  beforeAll(async () => {
    db = await freshDatabase(service, [{ component: 'bus', dir: OUTBOX_MIGRATIONS_DIR }]);
    // Each company's event is added as the service adds it: in that company's transaction.
    await withTenant(db.app, a, (tx) => outbox.add(tx, userCreated(a)));
    await withTenant(db.app, b, (tx) => outbox.add(tx, userCreated(b)));
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("cannot read another company's events, with or without a company set", async () => {
    expect(await pgRefusal(db.app.query('SELECT value FROM outbox'))).toBe(PgError.INSUFFICIENT_PRIVILEGE);
    expect(
      await pgRefusal(withTenant(db.app, a, (tx) => tx.query('SELECT value FROM outbox WHERE tenant_id = $1', [b]))),
    ).toBe(PgError.INSUFFICIENT_PRIVILEGE);
  });

  it('cannot erase or re-publish events', async () => {
    expect(await pgRefusal(db.app.query('DELETE FROM outbox'))).toBe(PgError.INSUFFICIENT_PRIVILEGE);
    expect(await pgRefusal(db.app.query('UPDATE outbox SET sent_at = NULL'))).toBe(PgError.INSUFFICIENT_PRIVILEGE);
    const { rows } = await db.admin.query<{ n: string }>('SELECT count(*)::text AS n FROM outbox');
    expect(rows[0]!.n).toBe('2');
  });

  it('the relay role reads and marks the outbox, and can reach nothing else', async () => {
    const { rows } = await db.relay.query<{ tenant_id: string }>('SELECT tenant_id FROM outbox ORDER BY id');
    expect(rows.map((r) => r.tenant_id)).toEqual([a, b]);
    const marked = await db.relay.query('UPDATE outbox SET sent_at = now() WHERE sent_at IS NULL');
    expect(marked.rowCount).toBe(2);
    // It cannot write events (so it cannot forge one), nor read the migrations' history.
    expect(
      await pgRefusal(
        db.relay.query(
          `INSERT INTO outbox (event_id, tenant_id, event_type, topic, value) VALUES (gen_random_uuid(), $1, 'x', 'x', '\\x00')`,
          [a],
        ),
      ),
    ).toBe(PgError.INSUFFICIENT_PRIVILEGE);
    expect(await pgRefusal(db.relay.query('SELECT * FROM schema_migrations'))).toBe(PgError.INSUFFICIENT_PRIVILEGE);
  });
});
