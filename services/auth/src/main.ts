import { runService, urlPassword } from '@flow8/runtime';
import { authConfigSchema } from './config';
import { createAuth } from './service';

await runService({
  name: 'auth',
  schema: authConfigSchema,
  secrets: (c) => [
    c.AUTH_DATABASE_URL,
    urlPassword(c.AUTH_DATABASE_URL),
    c.REDIS_URL,
    urlPassword(c.REDIS_URL),
    ...c.AUTH_API_KEY_SIGNING_KEYS.map((k) => Buffer.from(k).toString('base64')),
  ],
  create: createAuth,
});
