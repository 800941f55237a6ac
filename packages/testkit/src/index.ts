export { stackEnv, certPair, type StackEnv } from './stack';
export { issueTestCertificate } from './certs';
export { freshDatabase, pgRefusal, type TestDatabase } from './database';
export { uniqueTopicPrefix, provisionTopics, adminKafka, testKafka, readTopic } from './kafka';
export { eventually } from './wait';
export { manualClock, type ManualClock } from './clock';
export { freePort } from './ports';
export { waitForQuiescence, outboxBacklog, consumerLag, type QuiescenceOptions } from './quiescence';
export { httpsRequest, type HttpsResponse } from './https';
export {
  addMember,
  bearer,
  call,
  companyWithAdmin,
  createCompany,
  login,
  must,
  randomId,
  randomIpv4,
  resolveBody,
  strongPassword,
  type Company,
  type Res,
  type Session,
} from './api';
export {
  kafkaAnswers,
  redisAnswers,
  restartAndWait,
  measureRestarts,
  restartStack,
  type RestartTimings,
  spawnService,
  type ServiceProcess,
  stopKafka,
  stopPostgres,
  stopRedis,
} from './faults';
export { repoRoot } from './stack';
export { testIdentityKey } from './identity';
export {
  startOidcProvider,
  type OidcProviderOptions,
  type OidcTestProvider,
  type OidcUser,
  type AuthorizeResult,
  type TokenIntrospection,
} from './oidc';
export { catalogProblems, serviceCatalogProblems, definerProblems, type CatalogCheck } from './catalog';
