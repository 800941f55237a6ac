// Client certificates for callers the local stack does not run. The stack issues certificates only
// to what runs (scripts/lib/common.sh FLOW8_CERT_NAMES); a test that plays a service that does not
// exist yet (the flow engine calling the vault) gets one here, signed at test time by the stack's
// own CA, so the service under test verifies it exactly as it would the real one. Kept in a
// private temporary directory for the life of the test process, never in the stack's state.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let dir: string | null = null;
const issued = new Map<string, { certFile: string; keyFile: string }>();

function workDir(): string {
  if (dir) return dir;
  const made = mkdtempSync(join(tmpdir(), 'flow8-test-certs-'));
  dir = made;
  process.once('exit', () => rmSync(made, { recursive: true, force: true }));
  return made;
}

/**
 * A certificate with CN `name` (clientAuth + serverAuth, SAN localhost) signed by the CA in
 * `certsDir` (`ca.pem`, `ca-key.pem`), issued once per process. Uses the openssl the stack needs anyway.
 */
export function issueTestCertificate(certsDir: string, name: string): { certFile: string; keyFile: string } {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(name)) throw new Error(`not a certificate name: ${name}`);
  const known = issued.get(name);
  if (known) return known;
  const base = join(workDir(), name);
  const keyFile = `${base}-key.pem`;
  const csrFile = `${base}.csr`;
  const certFile = `${base}.pem`;
  const extFile = `${base}.ext`;
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
  run(['req', '-new', '-key', keyFile, '-subj', `/O=flow8 test/CN=${name}`, '-out', csrFile]);
  writeFileSync(
    extFile,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyAgreement',
      'extendedKeyUsage=clientAuth,serverAuth',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '',
    ].join('\n'),
  );
  run([
    'x509',
    '-req',
    '-in',
    csrFile,
    '-CA',
    join(certsDir, 'ca.pem'),
    '-CAkey',
    join(certsDir, 'ca-key.pem'),
    // A random serial: no serial file shared with the stack's own issuance.
    '-set_serial',
    `0x7${randomBytes(15).toString('hex')}`,
    '-days',
    '2',
    '-sha256',
    '-extfile',
    extFile,
    '-out',
    certFile,
  ]);
  const pair = { certFile, keyFile };
  issued.set(name, pair);
  return pair;
}
