import { readFileSync } from 'node:fs';
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that can run a query: a pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export interface PoolOptions {
  /** postgres://user:password@host:port/db?sslmode=verify-full — any other sslmode is refused. */
  url: string;
  /** The CA that signed the server certificate. */
  caFile: string;
  max?: number;
  applicationName?: string;
  statementTimeoutMs?: number;
}

export class DbConfigError extends Error {}

/** Parses a connection URL and refuses anything weaker than TLS with full verification. */
export function connectionConfig(opts: PoolOptions): pg.PoolConfig {
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw new DbConfigError('database URL is not a valid URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new DbConfigError(`database URL must use postgres://, not ${url.protocol}`);
  }
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode !== 'verify-full') {
    throw new DbConfigError(`database URL must set sslmode=verify-full (got ${sslmode ?? 'none'})`);
  }
  let ca: string;
  try {
    ca = readFileSync(opts.caFile, 'utf8');
  } catch {
    throw new DbConfigError(`cannot read the database CA file ${opts.caFile}`);
  }
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.slice(1)),
    ssl: { ca, rejectUnauthorized: true, servername: url.hostname, minVersion: 'TLSv1.2' },
    max: opts.max ?? 10,
    application_name: opts.applicationName,
    statement_timeout: opts.statementTimeoutMs,
    connectionTimeoutMillis: 10_000,
  };
}

export function createPool(opts: PoolOptions): pg.Pool {
  const pool = new pg.Pool(connectionConfig(opts));
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return pool;
}

/** The role a URL logs in as (the migration command grants privileges to the runtime role). */
export function userOf(urlString: string): string {
  return decodeURIComponent(new URL(urlString).username);
}
