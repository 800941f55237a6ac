// Prints an internal identity token for the platform operator acting as an Admin of one
// company, signed with the gateway identity key in the state dir. Used by scripts/start.sh to
// read the demo company's audit log directly from audit-ingest; whoever holds that key file can
// act as the gateway anyway.
// Usage: tsx scripts/lib/identity-token.ts <seed-file> <tenant-id> <audience>
//        tsx scripts/lib/identity-token.ts public-key <seed-file>   (the key services trust)
import { readFileSync } from 'node:fs';
import { createIdentitySigner, ed25519RawPublicKey } from '@flow8/http';

const readSeed = (file: string) => Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
if (process.argv[2] === 'public-key' && process.argv[3]) {
  process.stdout.write(Buffer.from(ed25519RawPublicKey(readSeed(process.argv[3]))).toString('base64'));
  process.exit(0);
}
const [seedFile, tenantId, audience] = process.argv.slice(2);
if (!seedFile || !tenantId || !audience) {
  process.stderr.write('usage: identity-token <seed-file> <tenant-id> <audience>\n');
  process.exit(2);
}
const seed = readSeed(seedFile);
const signer = createIdentitySigner({ seed, ttlSeconds: 60 });
process.stdout.write(
  signer.sign(
    { tenantId, type: 'operator', id: 'operator', role: 'admin', scopes: [], ip: '127.0.0.1', sessionId: null },
    audience,
  ),
);
