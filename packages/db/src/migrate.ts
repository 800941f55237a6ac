// Forward-only, checksummed migrations. Files `NNNN_<what>.sql` are applied in order, each in
// its own transaction, under an advisory lock so two replicas starting together do not race.
// An applied file whose checksum changed is an error: history is never edited.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function loadMigrations(dir: string): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const seen = new Set<number>();
  return files.map((file) => {
    const m = FILE.exec(file);
    if (!m) throw new MigrationError(`${file}: migration files are named NNNN_what.sql`);
    const version = Number(m[1]);
    if (seen.has(version)) throw new MigrationError(`${file}: duplicate version ${version}`);
    seen.add(version);
    const sql = readFileSync(join(dir, file), 'utf8');
    return { version, name: m[2] ?? '', sql, checksum: createHash('sha256').update(sql).digest('hex') };
  });
}

/**
 * `${name}` placeholders (e.g. `${app_role}`) are replaced by quoted identifiers from vars, so
 * the same files serve every deployment's role names. The checksum covers the file as written.
 */
export function render(sql: string, vars: Record<string, string>): string {
  return sql.replace(/\$\{([a-z_]+)\}/g, (_, key: string) => {
    const v = vars[key];
    if (v === undefined) throw new MigrationError(`migration uses \${${key}} but no value was given`);
    return `"${v.replace(/"/g, '""')}"`;
  });
}

const LOCK_KEY = 0x666c6f77; // 'flow'

/**
 * A set of migrations owned by one component. A service applies the sets of the shared
 * packages it embeds (e.g. the bus's outbox) before its own; each set has its own history.
 */
export interface MigrationSet {
  component: string;
  dir: string;
}

export async function runMigrations(
  pool: pg.Pool,
  sets: MigrationSet[],
  vars: Record<string, string> = {},
  log: (msg: string) => void = () => undefined,
): Promise<{ applied: string[] }> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      component text NOT NULL,
      version integer NOT NULL,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (component, version))`);
    for (const set of sets) {
      applied.push(...(await applySet(client, set, vars, log)));
    }
    return { applied };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}

async function applySet(
  client: pg.PoolClient,
  set: MigrationSet,
  vars: Record<string, string>,
  log: (msg: string) => void,
): Promise<string[]> {
  const migrations = loadMigrations(set.dir);
  const applied: string[] = [];
  const { rows } = await client.query<{ version: number; checksum: string; name: string }>(
    'SELECT version, name, checksum FROM schema_migrations WHERE component = $1 ORDER BY version',
    [set.component],
  );
  const done = new Map(rows.map((r) => [r.version, r]));
  for (const [version, row] of done) {
    const file = migrations.find((m) => m.version === version);
    if (!file)
      throw new MigrationError(`${set.component} migration ${version} (${row.name}) was applied but its file is gone`);
    if (file.checksum !== row.checksum) {
      throw new MigrationError(
        `${set.component} migration ${version}_${row.name} was edited after it was applied (checksum differs)`,
      );
    }
  }
  {
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      try {
        await client.query('BEGIN');
        await client.query(render(m.sql, vars));
        await client.query(
          'INSERT INTO schema_migrations (component, version, name, checksum) VALUES ($1, $2, $3, $4)',
          [set.component, m.version, m.name, m.checksum],
        );
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new MigrationError(`${set.component} migration ${m.version}_${m.name} failed: ${(e as Error).message}`, {
          cause: e,
        });
      }
      const label = `${set.component}/${String(m.version).padStart(4, '0')}_${m.name}`;
      applied.push(label);
      log(`applied ${label}`);
    }
  }
  return applied;
}
