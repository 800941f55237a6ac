// Tenant isolation as this service's database catalog states it, after the real migrations: every
// table with a tenant_id column under ENABLE + FORCE row-level security with a tenant policy, no
// policy that lets the runtime roles past it, and every SECURITY DEFINER function (the one way to
// cross tenants) with a search_path pinned and ending in pg_temp. A new migration that forgets
// any of it fails here.
import { freshDatabase, serviceCatalogProblems, type TestDatabase } from '@flow8/testkit';
import { AUTH_MIGRATIONS } from './harness';

let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase('AUTH', AUTH_MIGRATIONS);
});
afterAll(async () => {
  await db?.drop();
});

test('every tenant table is isolated and every way across tenants is a pinned definer function', async () => {
  expect(await serviceCatalogProblems(db)).toEqual([]);
});
