import { runService, urlPassword } from '@flow8/runtime';
import { authConfigSchema } from './config';
import { createAuth } from './service';

await runService({
  name: 'auth',
  schema: authConfigSchema,
  secrets: (c) => [c.AUTH_DATABASE_URL, urlPassword(c.AUTH_DATABASE_URL)],
  create: createAuth,
});
