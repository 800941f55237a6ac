// flow8_tenant_rls (bus migration 0003), the one way a migration isolates a tenant table, and the
// catalog check every service's catalog test relies on: a table made with the helper keeps each
// company to its own rows, and a table that misses FORCE (or its policy) is reported.
import { newId } from '@flow8/contracts';
import { userOf, withTenant } from '@flow8/db';
import { catalogProblems, freshDatabase, type TestDatabase } from '../../testkit/src/index';
import { OUTBOX_MIGRATIONS_DIR } from '../src/index';

let db: TestDatabase;
let roles: string[];

beforeAll(async () => {
  db = await freshDatabase('AUTH', [{ component: 'bus', dir: OUTBOX_MIGRATIONS_DIR }]);
  roles = [userOf(db.appUrl), userOf(db.relayUrl)];
  const app = `"${userOf(db.appUrl)}"`;
  await db.owner.query(`
    CREATE TABLE notes (id text PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL);
    SELECT flow8_tenant_rls('notes');
    GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO ${app};`);
});
afterAll(async () => {
  await db?.drop();
});

const outbox = { outbox: 'every company’s pending events; INSERT-only for the runtime role' };

test('a table made with flow8_tenant_rls keeps each company to its own rows, for the owner too', async () => {
  const [a, b] = [newId('ten'), newId('ten')];
  await withTenant(db.app, a, (tx) => tx.query(`INSERT INTO notes VALUES ('n1', $1, 'a')`, [a]));
  await withTenant(db.app, b, (tx) => tx.query(`INSERT INTO notes VALUES ('n2', $1, 'b')`, [b]));
  const seenByA = await withTenant(db.app, a, (tx) => tx.query<{ id: string }>('SELECT id FROM notes'));
  expect(seenByA.rows.map((r) => r.id)).toEqual(['n1']);
  // Writing another company's row from A's context is refused by WITH CHECK.
  await expect(
    withTenant(db.app, a, (tx) => tx.query(`INSERT INTO notes VALUES ('n3', $1, 'x')`, [b])),
  ).rejects.toThrow(/row-level security/);
  // Without a tenant context nothing is visible; FORCE binds the owner as well.
  expect((await db.app.query('SELECT id FROM notes')).rowCount).toBe(0);
  expect((await db.owner.query('SELECT id FROM notes')).rowCount).toBe(0);
  expect(await catalogProblems(db.admin, { runtimeRoles: roles, exceptions: outbox })).toEqual([]);
});

test('the catalog check reports a tenant table without FORCE, without a policy, or opened by a policy', async () => {
  await db.owner.query(`
    CREATE TABLE loose (id text PRIMARY KEY, tenant_id text NOT NULL);
    ALTER TABLE loose ENABLE ROW LEVEL SECURITY;
    CREATE POLICY everything ON loose USING (true);`);
  expect(await catalogProblems(db.admin, { runtimeRoles: roles, exceptions: outbox })).toEqual([
    'loose: tenant table without FORCE ROW LEVEL SECURITY',
    'loose: tenant table without a tenant policy on tenant_id (USING and WITH CHECK)',
    'loose: policy everything applies to the runtime roles without a tenant condition',
  ]);
  await db.owner.query('DROP TABLE loose');
});

test('the catalog check reports a SECURITY DEFINER function whose search_path leaves pg_temp first', async () => {
  await db.owner.query(`
    CREATE FUNCTION count_notes() RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = public
      AS $$ SELECT count(*) FROM notes $$;
    CREATE FUNCTION count_notes_unpinned() RETURNS bigint LANGUAGE sql SECURITY DEFINER
      AS $$ SELECT count(*) FROM public.notes $$;`);
  expect(await catalogProblems(db.admin, { runtimeRoles: roles, exceptions: outbox })).toEqual([
    'count_notes(): search_path "public" does not end in pg_temp',
    'count_notes_unpinned(): SECURITY DEFINER without a pinned search_path',
  ]);
  await db.owner.query('DROP FUNCTION count_notes(); DROP FUNCTION count_notes_unpinned()');
});
