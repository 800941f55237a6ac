// Usage: tsx packages/db/src/cli/migrate.ts <OWNER_URL_ENV> <APP_URL_ENV> <RELAY_URL_ENV> <component>=<dir> [...]
// Applies the migration sets in order as the owner role and grants to the runtime role named
// by the app URL and the outbox relay's role named by the relay URL (only their user names are
// used). The deployment runs it as a step of its own before the service starts: the service
// process never holds the owner's credentials. Exits non-zero on any failure: a deployment must
// never start on a half schema.
import { resolve } from 'node:path';
import { createPool, userOf } from '../pool';
import { runMigrations } from '../migrate';

async function main(): Promise<number> {
  const [ownerEnv, appEnv, relayEnv, ...setArgs] = process.argv.slice(2);
  const sets = setArgs.map((a) => {
    const [component, dir] = a.split('=');
    return { component: component ?? '', dir: resolve(dir ?? '') };
  });
  if (!ownerEnv || !appEnv || !relayEnv || sets.length === 0 || sets.some((s) => !s.component)) {
    process.stderr.write('usage: migrate <OWNER_URL_ENV> <APP_URL_ENV> <RELAY_URL_ENV> <component>=<dir> [...]\n');
    return 2;
  }
  const ownerUrl = process.env[ownerEnv];
  const appUrl = process.env[appEnv];
  const relayUrl = process.env[relayEnv];
  const caFile = process.env.FLOW8_CA_FILE;
  const missing = [
    [ownerEnv, ownerUrl],
    [appEnv, appUrl],
    [relayEnv, relayUrl],
    ['FLOW8_CA_FILE', caFile],
  ]
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length > 0 || !ownerUrl || !appUrl || !relayUrl || !caFile) {
    process.stderr.write(`migrate: missing environment: ${missing.join(', ')}\n`);
    return 78;
  }
  const pool = createPool({ url: ownerUrl, caFile, max: 1, applicationName: 'migrate' });
  try {
    const { applied } = await runMigrations(
      pool,
      sets,
      { app_role: userOf(appUrl), relay_role: userOf(relayUrl) },
      (m) => process.stdout.write(`migrate: ${m}\n`),
    );
    process.stdout.write(`migrate: ${applied.length} applied, schema up to date\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`migrate: FAILED: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await pool.end();
  }
}

process.exitCode = await main();
