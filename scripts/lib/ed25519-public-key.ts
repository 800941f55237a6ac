// Prints the base64 raw Ed25519 public key of a base64 32-byte seed file: what the services are
// configured to trust (INTERNAL_IDENTITY_PUBLIC_KEYS) for the gateway's identity signing key.
// Usage: tsx scripts/lib/ed25519-public-key.ts <seed-file>
import { readFileSync } from 'node:fs';
import { ed25519RawPublicKey } from '@flow8/http';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: ed25519-public-key <seed-file>\n');
  process.exit(2);
}
const seed = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
process.stdout.write(Buffer.from(ed25519RawPublicKey(seed)).toString('base64'));
