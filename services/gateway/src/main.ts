import { runService } from '@flow8/runtime';
import { gatewayConfigSchema } from './config';
import { createGateway } from './service';

await runService({
  name: 'gateway',
  schema: gatewayConfigSchema,
  create: createGateway,
});
