// Creates a company and its first Admin, as the platform operator.
//
//   FLOW8_ADMIN_PASSWORD=… tsx services/auth/src/cli/create-tenant.ts \
//     --url https://localhost:8101 --name "Acme Law" --slug acme-law --admin-email a@acme.test
//
// The password is read from the environment only: argv is visible to every local user (ps).
// The client certificate is $FLOW8_CERTS_DIR/operator.pem (+ operator-key.pem) unless --cert /
// --key say otherwise; the server is verified against $FLOW8_CA_FILE (or --ca).
// Prints {"tenantId", "slug", "adminUserId"} as JSON. Exit 0 created, 1 refused/failed, 2 usage.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createTenantViaApi } from './operator-client';

const USAGE =
  'usage: FLOW8_ADMIN_PASSWORD=… create-tenant --url https://host:8101 --name NAME --slug SLUG --admin-email EMAIL [--ca FILE] [--cert FILE --key FILE]\n';

async function main(): Promise<number> {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: 'string' },
        name: { type: 'string' },
        slug: { type: 'string' },
        'admin-email': { type: 'string' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`create-tenant: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { url, name, slug } = values;
  const adminEmail = values['admin-email'];
  const adminPassword = process.env.FLOW8_ADMIN_PASSWORD;
  const certsDir = process.env.FLOW8_CERTS_DIR;
  const caFile = values.ca ?? process.env.FLOW8_CA_FILE;
  const certFile = values.cert ?? (certsDir ? join(certsDir, 'operator.pem') : undefined);
  const keyFile = values.key ?? (certsDir ? join(certsDir, 'operator-key.pem') : undefined);
  const missing = [
    ['--url', url],
    ['--name', name],
    ['--slug', slug],
    ['--admin-email', adminEmail],
    ['FLOW8_ADMIN_PASSWORD', adminPassword],
    ['FLOW8_CA_FILE or --ca', caFile],
    ['FLOW8_CERTS_DIR or --cert', certFile],
    ['FLOW8_CERTS_DIR or --key', keyFile],
  ]
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (
    missing.length > 0 ||
    !url ||
    !name ||
    !slug ||
    !adminEmail ||
    !adminPassword ||
    !caFile ||
    !certFile ||
    !keyFile
  ) {
    process.stderr.write(`create-tenant: missing ${missing.join(', ')}\n${USAGE}`);
    return 2;
  }
  try {
    const result = await createTenantViaApi({ url, name, slug, adminEmail, adminPassword, caFile, certFile, keyFile });
    if (!result.ok) {
      process.stderr.write(`create-tenant: refused (HTTP ${result.status} ${result.code}): ${result.message}\n`);
      return 1;
    }
    process.stdout.write(
      `${JSON.stringify({ tenantId: result.tenantId, slug: result.slug, adminUserId: result.adminUserId })}\n`,
    );
    return 0;
  } catch (e) {
    process.stderr.write(`create-tenant: FAILED: ${(e as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main();
