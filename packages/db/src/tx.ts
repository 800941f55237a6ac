import pg from 'pg';

export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

const beginStatement = (isolation?: Isolation) =>
  isolation ? `BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}` : 'BEGIN';

/**
 * Runs fn inside `begin` … COMMIT on one pooled client. Succeeds only if the server answers
 * COMMIT: a transaction an error aborted (one fn caught and swallowed) answers ROLLBACK, which is
 * an error here too — so fn's result is never returned for writes that did not commit.
 */
async function inTransaction<T>(pool: pg.Pool, begin: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // The pool listens for errors of idle clients only. A connection that drops while this one is
  // checked out but between statements (fn awaiting something else; the server restarting)
  // emits 'error' with nobody listening — which would crash the process. The next statement
  // fails with the reason instead, and the error handler answers 503.
  const onError = (): void => undefined;
  client.on('error', onError);
  try {
    await client.query(begin);
    const result = await fn(client);
    const { command } = await client.query('COMMIT');
    if (command !== 'COMMIT') throw new Error(`the transaction ended in ${command}, not COMMIT`);
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.off('error', onError);
    client.release();
  }
}

/** Runs fn in a transaction; commits on success, rolls back on any error and rethrows it. */
export function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  opts: { isolation?: Isolation } = {},
): Promise<T> {
  return inTransaction(pool, beginStatement(opts.isolation), fn);
}

/** The id format of a company (`ten_` + 26 lower-case base32 characters). */
export const TENANT_ID = /^ten_[0-9a-z]{26}$/;

/**
 * Sets the tenant for row-level security for the rest of the current transaction. Policies
 * read it with current_setting('app.tenant_id', true); a query that forgets its WHERE clause
 * still sees only this tenant's rows.
 */
export async function setTenant(client: Pick<pg.PoolClient, 'query'>, tenantId: string): Promise<void> {
  await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
}

/**
 * A transaction scoped to one tenant. BEGIN and the tenant setting travel as one message (one
 * round trip fewer on every tenant transaction). A multi-statement message takes no bind
 * parameters, so the tenant id is written as a literal: refused unless it has the id format
 * (nothing else ever reaches SQL), and escaped besides.
 */
export function withTenant<T>(
  pool: pg.Pool,
  tenantId: string,
  fn: (client: pg.PoolClient) => Promise<T>,
  opts: { isolation?: Isolation } = {},
): Promise<T> {
  if (!TENANT_ID.test(tenantId)) return Promise.reject(new Error('not a tenant id'));
  const literal = pg.escapeLiteral(tenantId);
  return inTransaction(
    pool,
    `${beginStatement(opts.isolation)}; SELECT set_config('app.tenant_id', ${literal}, true)`,
    fn,
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
