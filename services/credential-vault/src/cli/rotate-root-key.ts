// Usage (operator): ENCRYPTION_KEY=<new> ENCRYPTION_KEY_PREVIOUS=<old> \
//   pnpm --filter @flow8/credential-vault rotate-root-key [--actor <name>]
// Re-wraps every data key wrapped under the previous root key with the new one and records the
// new fingerprint; each re-wrap emits vault.key.rotated (kind root_rewrap) through the outbox,
// which the running service relays. Safe to re-run. Exits non-zero on any failure.
import { userInfo } from 'node:os';
import { z } from 'zod';
import { createOutbox } from '@flow8/bus';
import { base64Key, busFields, filePath, parseConfigOrExit, secret } from '@flow8/config';
import { ready } from '@flow8/crypto';
import { servicePool } from '@flow8/runtime';
import { rotateRootKey } from '../features/keys/keys.service';
import { createKeyring, RootKeyMismatchError } from '../keyring/keyring';

const schema = z.object({
  VAULT_DATABASE_URL: secret(),
  FLOW8_CA_FILE: filePath(),
  ENCRYPTION_KEY: base64Key(32),
  ENCRYPTION_KEY_PREVIOUS: base64Key(32),
  KAFKA_TOPIC_PREFIX: busFields.KAFKA_TOPIC_PREFIX,
});

async function main(): Promise<number> {
  const config = parseConfigOrExit(schema, { service: 'rotate-root-key' });
  const i = process.argv.indexOf('--actor');
  const actorName = i >= 0 ? process.argv[i + 1] : userInfo().username;
  if (!actorName) {
    process.stderr.write('rotate-root-key: --actor needs a name\n');
    return 2;
  }
  await ready();
  const pool = servicePool('rotate-root-key', config.VAULT_DATABASE_URL, config.FLOW8_CA_FILE);
  try {
    const keyring = createKeyring({
      pool,
      current: config.ENCRYPTION_KEY,
      previous: config.ENCRYPTION_KEY_PREVIOUS,
      cacheTtlMs: 0,
    });
    const r = await rotateRootKey({
      pool,
      keyring,
      outbox: createOutbox({ topicPrefix: config.KAFKA_TOPIC_PREFIX }),
      actor: { type: 'operator', id: `operator:${actorName}`.slice(0, 128), ip: null },
      onProgress: (n) => process.stdout.write(`rotate-root-key: ${n} data keys re-wrapped\n`),
    });
    process.stdout.write(
      `rotate-root-key: done: ${r.rewrapped} data keys re-wrapped from ${r.previousFingerprint} to ${r.fingerprint} ` +
        `in ${(r.ms / 1000).toFixed(2)} s. Check GET /internal/v1/keys/status, then retire ${r.previousFingerprint}.\n`,
    );
    return 0;
  } catch (e) {
    const message = e instanceof RootKeyMismatchError ? e.message : `rotate-root-key: FAILED: ${(e as Error).message}`;
    process.stderr.write(`${message}\n`);
    return 1;
  } finally {
    await pool.end();
  }
}

process.exitCode = await main();
