import type pg from 'pg';

export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

/** Runs fn in a transaction; commits on success, rolls back on any error and rethrows it. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  opts: { isolation?: Isolation } = {},
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(opts.isolation ? `BEGIN ISOLATION LEVEL ${opts.isolation.toUpperCase()}` : 'BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

/**
 * Sets the tenant for row-level security for the rest of the current transaction. Policies
 * read it with current_setting('app.tenant_id', true); a query that forgets its WHERE clause
 * still sees only this tenant's rows.
 */
export async function setTenant(client: Pick<pg.PoolClient, 'query'>, tenantId: string): Promise<void> {
  await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
}

/** A transaction scoped to one tenant. */
export function withTenant<T>(
  pool: pg.Pool,
  tenantId: string,
  fn: (client: pg.PoolClient) => Promise<T>,
  opts: { isolation?: Isolation } = {},
): Promise<T> {
  return withTransaction(
    pool,
    async (client) => {
      await setTenant(client, tenantId);
      return fn(client);
    },
    opts,
  );
}

/** Postgres error codes callers branch on. */
export const PgError = {
  UNIQUE_VIOLATION: '23505',
  INSUFFICIENT_PRIVILEGE: '42501',
  SERIALIZATION_FAILURE: '40001',
  DEADLOCK_DETECTED: '40P01',
  RAISE_EXCEPTION: 'P0001',
} as const;

export function pgCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}
