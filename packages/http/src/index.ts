export { AppError, ERROR_CODES, type ErrorBody, type ErrorCode, isAppError, statusFor } from './errors';
export { errorBody, mapError, type MappedError, sendError, type ValidationIssue } from './error-handler';
export { isDependencyUnavailable, UNAVAILABLE_RETRY_AFTER_SECONDS } from './unavailable';
export { buildServiceApp, DEFAULT_BODY_LIMIT, type ServiceAppOptions, type ServiceTlsOptions } from './app';
export {
  type CheckResult,
  isDraining,
  markDraining,
  probeAnswerer,
  type ProbeAnswer,
  type ProbePath,
  READINESS_TIMEOUT_MS,
  type ReadinessCheck,
  runReadiness,
} from './health';
export { requireServiceIdentity, serviceIdentity } from './identity';
export { isSafeRequestId, newRequestId, REQUEST_ID_HEADER, requestIdFor } from './request-id';
export {
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  installShutdownSignals,
  type RunningService,
  serve,
  type ServeOptions,
  type ShutdownSignalOptions,
} from './serve';
export { recordServerError, requestSpan } from './tracing';
export { httpServerDuration, httpServerRequests, requestLabels, UNMATCHED_ROUTE } from './metrics';
export {
  createIdentitySigner,
  createIdentityVerifier,
  ed25519PrivateKey,
  ed25519PublicKey,
  ed25519RawPublicKey,
  INTERNAL_IDENTITY_HEADER,
  keyIdOf,
  principalOf,
  requireInternalIdentity,
  type IdentitySigner,
  type IdentityVerifierOptions,
  type InternalPrincipal,
  type PrincipalRole,
  type PrincipalType,
  type VerifyOutcome,
} from './internal-identity';
export {
  createServiceCallSigner,
  createServiceCallVerifier,
  requireServiceCall,
  serviceCallOf,
  type ActingPrincipal,
  type ServiceCall,
  type ServiceCallOutcome,
  type ServiceCallSigner,
  type ServiceCallVerifierOptions,
} from './service-caller';
export { decodeCursor, decodeSeqCursor, encodeCursor, encodeSeqCursor, listQuery, listResponse, page } from './cursor';
export {
  checkUrlText,
  decodeUtf8,
  DEFAULT_MAX_JSON_DEPTH,
  findBadText,
  jsonDepthExceeds,
  type TextProblem,
} from './text-guard';
export {
  cidrBlockList,
  cidrListOrThrow,
  ipIn,
  normaliseIp,
  parseCidr,
  parseCidrList,
  type CidrBlockList,
  type CidrOptions,
  type CidrParse,
} from './cidr';
