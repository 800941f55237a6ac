import { runService, urlPassword } from '@flow8/runtime';
import { gatewayConfigSchema } from './config';
import { createGateway } from './service';

await runService({
  name: 'gateway',
  schema: gatewayConfigSchema,
  secrets: (c) => [
    c.GATEWAY_OPERATOR_TOKEN,
    c.REDIS_URL,
    urlPassword(c.REDIS_URL),
    Buffer.from(c.GATEWAY_IDENTITY_SIGNING_KEY).toString('base64'),
  ],
  create: createGateway,
});
