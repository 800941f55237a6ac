// What a service database's catalog must say about tenant isolation, checked from pg_catalog
// (not from the migration files, which can be read wrong): every table with a tenant_id column
// is under ENABLE + FORCE row-level security with a tenant policy, no policy lets the runtime
// roles through without a tenant condition, the runtime roles neither bypass RLS nor own
// anything, and every SECURITY DEFINER function pins a search_path that ends in pg_temp over
// schemas the runtime roles cannot write. Each service has a catalog test that expects [].
import { userOf, type Queryable } from '@flow8/db';

export interface CatalogCheck {
  /** The roles the service runs as (runtime role, outbox relay role). */
  runtimeRoles: string[];
  /** Tables with a tenant_id column that are deliberately outside RLS, each with its reason. */
  exceptions?: Record<string, string>;
}

/** Every problem found, one sentence each; [] when the database is as it must be. */
export async function catalogProblems(db: Queryable, check: CatalogCheck): Promise<string[]> {
  const problems: string[] = [];
  const exceptions = check.exceptions ?? {};
  const roles = check.runtimeRoles;

  const tables = await db.query<{
    name: string;
    rls: boolean;
    force: boolean;
    partition_of: string | null;
    tenant_policy: boolean;
    runtime_privileges: string[] | null;
  }>(
    `SELECT c.relname AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS force,
            (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid AND c.relispartition) AS partition_of,
            EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polpermissive AND p.polcmd = '*'
                      AND pg_get_expr(p.polqual, p.polrelid) LIKE '%tenant_id%'
                      AND pg_get_expr(p.polwithcheck, p.polrelid) LIKE '%tenant_id%') AS tenant_policy,
            (SELECT array_agg(r.rolname::text ORDER BY r.rolname) FROM pg_roles r
              WHERE r.rolname = ANY ($1::text[])
                AND has_table_privilege(r.oid, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')) AS runtime_privileges
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public'
        AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
                      AND a.attnum > 0 AND NOT a.attisdropped)
      ORDER BY 1`,
    [roles],
  );
  for (const t of tables.rows) {
    if (t.name in exceptions) continue;
    if (t.partition_of) {
      // A partition is reached through its parent (whose policies apply); reached directly it
      // would be outside them, so the runtime roles must hold no privilege on it.
      if (t.runtime_privileges?.length) {
        problems.push(
          `${t.name}: partition of ${t.partition_of} is directly accessible to ${t.runtime_privileges.join(', ')}`,
        );
      }
      continue;
    }
    if (!t.rls) problems.push(`${t.name}: tenant table without ENABLE ROW LEVEL SECURITY`);
    if (!t.force) problems.push(`${t.name}: tenant table without FORCE ROW LEVEL SECURITY`);
    if (!t.tenant_policy)
      problems.push(`${t.name}: tenant table without a tenant policy on tenant_id (USING and WITH CHECK)`);
  }
  for (const name of Object.keys(exceptions)) {
    if (!tables.rows.some((t) => t.name === name))
      problems.push(`${name}: listed as an exception but no such tenant table`);
  }

  // A permissive policy that applies to a runtime role ORs with the tenant policy: it must carry a
  // tenant condition itself, or it opens the table.
  const open = await db.query<{ tbl: string; policy: string }>(
    `SELECT p.polrelid::regclass::text AS tbl, p.polname AS policy
       FROM pg_policy p
      WHERE p.polpermissive
        AND (p.polroles = '{0}' OR EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = ANY (p.polroles) AND r.rolname = ANY ($1::text[])))
        AND ((p.polcmd <> 'a' AND coalesce(pg_get_expr(p.polqual, p.polrelid), '') NOT LIKE '%tenant%')
             OR (p.polcmd IN ('*', 'a', 'w')
                 AND coalesce(pg_get_expr(p.polwithcheck, p.polrelid), pg_get_expr(p.polqual, p.polrelid), '') NOT LIKE '%tenant%'))
      ORDER BY 1, 2`,
    [roles],
  );
  for (const p of open.rows)
    problems.push(`${p.tbl}: policy ${p.policy} applies to the runtime roles without a tenant condition`);

  const powerful = await db.query<{ rolname: string }>(
    `SELECT rolname FROM pg_roles WHERE rolname = ANY ($1::text[]) AND (rolsuper OR rolbypassrls) ORDER BY 1`,
    [roles],
  );
  for (const r of powerful.rows) problems.push(`role ${r.rolname} is a superuser or has BYPASSRLS`);
  const owning = await db.query<{ name: string; owner: string }>(
    `SELECT c.relname AS name, pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND pg_get_userbyid(c.relowner) = ANY ($1::text[]) ORDER BY 1`,
    [roles],
  );
  // The owner is exempt from RLS unless FORCEd and may alter or drop the table: never a runtime role.
  for (const o of owning.rows) problems.push(`${o.name}: owned by runtime role ${o.owner}`);

  problems.push(...(await definerProblems(db, roles)));
  return problems;
}

/** SECURITY DEFINER functions whose search_path is not pinned, ends before pg_temp, or is writable. */
export async function definerProblems(db: Queryable, runtimeRoles: string[]): Promise<string[]> {
  const problems: string[] = [];
  const { rows } = await db.query<{ fn: string; config: string[] | null }>(
    `SELECT p.oid::regprocedure::text AS fn, p.proconfig AS config
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  );
  for (const f of rows) {
    const setting = (f.config ?? []).find((c) => c.startsWith('search_path='));
    if (!setting) {
      problems.push(`${f.fn}: SECURITY DEFINER without a pinned search_path`);
      continue;
    }
    const path = setting
      .slice('search_path='.length)
      .split(',')
      .map((s) => s.trim().replace(/^"(.*)"$/, '$1'));
    if (path.at(-1) !== 'pg_temp') problems.push(`${f.fn}: search_path "${path.join(', ')}" does not end in pg_temp`);
    for (const schema of path.filter((s) => s !== 'pg_temp')) {
      const w = await db.query<{ rolname: string }>(
        `SELECT r.rolname FROM pg_roles r JOIN pg_namespace n ON n.nspname = $2
          WHERE r.rolname = ANY ($1::text[]) AND has_schema_privilege(r.oid, n.oid, 'CREATE') ORDER BY 1`,
        [runtimeRoles, schema],
      );
      for (const r of w.rows)
        problems.push(`${f.fn}: ${r.rolname} may create objects in ${schema}, on its search_path`);
    }
  }
  return problems;
}

/**
 * The catalog check every service database passes after its real migrations: its runtime and
 * relay roles bound, and the one table every company shares by design — the outbox, which the
 * runtime role may only INSERT into (bus migration 0002) and only the relay role reads.
 */
export function serviceCatalogProblems(db: { admin: Queryable; appUrl: string; relayUrl: string }): Promise<string[]> {
  return catalogProblems(db.admin, {
    runtimeRoles: [userOf(db.appUrl), userOf(db.relayUrl)],
    exceptions: { outbox: 'written by the runtime role with INSERT only; read by the relay role alone' },
  });
}
