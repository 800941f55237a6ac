import { runService } from '@flow8/runtime';
import { vaultConfigSchema } from './config';
import { RootKeyMismatchError } from './keyring/keyring';
import { createVault, SERVICE_NAME } from './service';

await runService({
  name: SERVICE_NAME,
  schema: vaultConfigSchema,
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
