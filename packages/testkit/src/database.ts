import { randomBytes } from 'node:crypto';
import { createPool, pgCode, runMigrations, userOf, type MigrationSet, type Pool } from '@flow8/db';
import { stackEnv } from './stack';

export interface TestDatabase {
  name: string;
  /** Runtime (non-owner, RLS-bound) role URL. */
  appUrl: string;
  /** The outbox relay's role URL (reads and marks the outbox, nothing else). */
  relayUrl: string;
  /** Owner role URL (migrations). */
  ownerUrl: string;
  /** Superuser URL for this database: for tests that play the attacker with full access. */
  adminUrl: string;
  app: Pool;
  relay: Pool;
  owner: Pool;
  admin: Pool;
  drop(): Promise<void>;
}

function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * A fresh database for one suite, owned by the service's owner role, with the real
 * migrations applied and CONNECT granted to the service's runtime and relay roles only.
 */
export async function freshDatabase(
  service: 'AUTH' | 'VAULT' | 'FLOW' | 'AUDIT' | 'RETENTION',
  sets: MigrationSet[],
): Promise<TestDatabase> {
  const env = stackEnv();
  const base = env.databaseUrls(service);
  const name = `t_${service.toLowerCase()}_${randomBytes(5).toString('hex')}`;
  const ownerRole = userOf(base.owner);
  const appRole = userOf(base.app);
  const relayRole = userOf(base.relay);
  const root = createPool({ url: env.pgAdminUrl, caFile: env.caFile, max: 1 });
  try {
    await root.query(`CREATE DATABASE "${name}" OWNER "${ownerRole}"`);
    await root.query(`REVOKE ALL ON DATABASE "${name}" FROM PUBLIC`);
    await root.query(`GRANT CONNECT ON DATABASE "${name}" TO "${appRole}", "${relayRole}"`);
  } finally {
    await root.end();
  }
  const ownerUrl = withDb(base.owner, name);
  const appUrl = withDb(base.app, name);
  const relayUrl = withDb(base.relay, name);
  const adminUrl = withDb(env.pgAdminUrl, name);
  const owner = createPool({ url: ownerUrl, caFile: env.caFile, max: 2 });
  await runMigrations(owner, sets, { app_role: appRole, relay_role: relayRole });
  const app = createPool({ url: appUrl, caFile: env.caFile, max: 10 });
  const relay = createPool({ url: relayUrl, caFile: env.caFile, max: 3 });
  const admin = createPool({ url: adminUrl, caFile: env.caFile, max: 2 });
  return {
    name,
    appUrl,
    relayUrl,
    ownerUrl,
    adminUrl,
    app,
    relay,
    owner,
    admin,
    async drop() {
      await Promise.allSettled([app.end(), relay.end(), owner.end(), admin.end()]);
      const r = createPool({ url: env.pgAdminUrl, caFile: env.caFile, max: 1 });
      try {
        await r.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await r.end();
      }
    },
  };
}

/** The PostgreSQL error code (SQLSTATE) that refused `p`, or undefined when it was not refused. */
export async function pgRefusal(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return pgCode(e);
  }
}
