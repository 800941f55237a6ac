// The OAuth2 part of the credential vault; see README.md for the flow and how to wire it.
export { createOAuthFlow, createMemoryOAuthStore } from './oauth.flow';
export type {
  OAuthFlow,
  OAuthFlowDeps,
  OAuthLogger,
  OAuthStore,
  OAuthTokenSet,
  PendingAuthorization,
  Principal,
} from './oauth.flow';
export { createOAuthClient, createOAuthClients } from './oauth.client';
export type { OAuthClient, OAuthClientOptions, ResolvedEndpoints, TokenResponse } from './oauth.client';
export { INTEGRATIONS, PROVIDER_DEFAULTS, isIntegrationName, localIntegrations } from './integrations';
export type { ClientCredentials, IntegrationConfig, IntegrationName, RevocationStyle } from './integrations';
export { OAuthError, type OAuthErrorCode } from './oauth.errors';
export { assertEgressAllowed, isPrivateAddress, type EgressOptions } from './egress';
export { codeChallengeS256, generateCodeVerifier, generateState, stateKey } from './pkce';
