import { runService } from '@flow8/runtime';
import { flowEngineConfigSchema } from './config';
import { createFlowEngine } from './service';

await runService({
  name: 'flow-engine',
  schema: flowEngineConfigSchema,
  create: (config, logger) => createFlowEngine(config, logger),
});
