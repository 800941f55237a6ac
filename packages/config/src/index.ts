export {
  base64Key,
  bool,
  csv,
  duration,
  enumOf,
  filePath,
  int,
  isSecretSchema,
  parseDuration,
  port,
  secret,
  serviceKeys,
  str,
  url,
} from './fields';
export {
  busFields,
  httpFields,
  internalIdentityFields,
  kafkaFields,
  LOG_LEVELS,
  metricsFields,
  metricsPort,
  telemetryFields,
  tlsFields,
} from './fragments';
export { CONFIG_EXIT_CODE, ConfigError, loadConfig, parseConfigOrExit, secretValues } from './load';
export type { Env, LoadConfigOptions, ParseConfigOrExitOptions } from './load';
