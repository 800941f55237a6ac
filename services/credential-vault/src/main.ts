import { runService, urlPassword } from '@flow8/runtime';
import { vaultConfigSchema } from './config';
import { RootKeyMismatchError } from './keyring/keyring';
import { createVault, SERVICE_NAME } from './service';

const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64');

await runService({
  name: SERVICE_NAME,
  schema: vaultConfigSchema,
  secrets: (c) => [
    c.VAULT_DATABASE_URL,
    urlPassword(c.VAULT_DATABASE_URL),
    b64(c.ENCRYPTION_KEY),
    ...(c.ENCRYPTION_KEY_PREVIOUS ? [b64(c.ENCRYPTION_KEY_PREVIOUS)] : []),
  ],
  create: async (config, logger) => {
    try {
      return await createVault(config, logger);
    } catch (e) {
      if (e instanceof RootKeyMismatchError) {
        // Exit at once with the message on stderr, like a configuration error (EX_CONFIG).
        process.stderr.write(`${e.message}\n`);
        process.exit(78);
      }
      throw e;
    }
  },
});
