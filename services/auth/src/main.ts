import { runService } from '@flow8/runtime';
import { authConfigSchema } from './config';
import { createAuth } from './service';

await runService({
  name: 'auth',
  schema: authConfigSchema,
  create: createAuth,
});
