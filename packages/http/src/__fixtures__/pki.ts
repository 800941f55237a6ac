import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  key: string;
  cert: string;
}

export interface TestPki {
  ca: string;
  server: KeyPair;
  client(name: string): KeyPair;
  /** A client certificate from a different CA — must never be accepted. */
  rogueClient(name: string): KeyPair;
  cleanup(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function makeLeaf(dir: string, ca: string, file: string, cn: string, extensions: string): KeyPair {
  writeFileSync(join(dir, `${file}.ext`), extensions);
  openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${file}.key`,
    '-out',
    `${file}.csr`,
    '-subj',
    `/CN=${cn}`,
  ]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${file}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${file}.crt`,
    '-days',
    '1',
    '-extfile',
    `${file}.ext`,
  ]);
  return {
    key: readFileSync(join(dir, `${file}.key`), 'utf8'),
    cert: readFileSync(join(dir, `${file}.crt`), 'utf8'),
  };
}

/** A throwaway CA, a server cert for localhost/127.0.0.1, and client certs on demand (openssl CLI). */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'flow8-http-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'rogue-ca');
  const server = makeLeaf(
    dir,
    'ca',
    'server',
    'localhost',
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  );
  const clientExt = 'extendedKeyUsage=clientAuth\n';
  return {
    ca: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    server,
    client: (name) => makeLeaf(dir, 'ca', `client-${name}`, name, clientExt),
    rogueClient: (name) => makeLeaf(dir, 'rogue-ca', `rogue-${name}`, name, clientExt),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
