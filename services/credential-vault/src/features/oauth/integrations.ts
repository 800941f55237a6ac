// The OAuth integrations the vault can connect, and how each provider is reached. Endpoints are
// the providers' published ones; the client id/secret per integration come from the vault's
// config (one app registration per deployment), never from here.
//
// Tests replace every entry with the local oidc-provider (`localIntegrations`), so the code
// path under test is the one production takes; only the URLs differ.

export const INTEGRATIONS = ['salesforce', 'google_drive', 'quickbooks', 'slack', 'clio'] as const;
export type IntegrationName = (typeof INTEGRATIONS)[number];

export function isIntegrationName(value: string): value is IntegrationName {
  return (INTEGRATIONS as readonly string[]).includes(value);
}

/**
 * How a refresh or access token is revoked:
 * - `rfc7009`: form POST `token`, `token_type_hint`, with client authentication (Salesforce, Google, oidc-provider)
 * - `json_body`: JSON POST `{"token": …}` with HTTP Basic client authentication (Intuit/QuickBooks)
 * - `bearer`: POST with `Authorization: Bearer <token>` (Slack `auth.revoke`, Clio `deauthorize`)
 */
export type RevocationStyle = 'rfc7009' | 'json_body' | 'bearer';

export interface ProviderEndpoints {
  /** Issuer for discovery (`/.well-known/openid-configuration`); when set, discovery supplies endpoints not given below. */
  issuer?: string | undefined;
  authorizationEndpoint?: string | undefined;
  tokenEndpoint?: string | undefined;
  revocationEndpoint?: string | undefined;
}

export interface IntegrationConfig extends ProviderEndpoints {
  name: IntegrationName;
  /** Scopes requested when the caller names none. */
  defaultScopes: readonly string[];
  /** Separator the provider expects between scopes (Slack uses ','). */
  scopeSeparator: ' ' | ',';
  /** Extra authorization-request parameters, e.g. what makes the provider issue a refresh token. */
  extraAuthorizationParams: Readonly<Record<string, string>>;
  tokenEndpointAuthMethod: 'client_secret_basic' | 'client_secret_post';
  revocationStyle: RevocationStyle;
  /** Which token to revoke on delete: the refresh token ends the whole grant at these providers. */
  revokeToken: 'refresh_token' | 'access_token';
}

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/** Published endpoints. Non-RFC behaviours are noted; only `rfc7009` revocation is exercised by tests. */
export const PROVIDER_DEFAULTS: Readonly<Record<IntegrationName, IntegrationConfig>> = {
  salesforce: {
    name: 'salesforce',
    issuer: 'https://login.salesforce.com',
    // Salesforce's token response has no expires_in: expiry is unknown, ensureFresh cannot
    // refresh ahead of time, and a connector must refresh on 401 (`forceRefresh`).
    defaultScopes: ['api', 'refresh_token'],
    scopeSeparator: ' ',
    extraAuthorizationParams: {},
    tokenEndpointAuthMethod: 'client_secret_post',
    revocationStyle: 'rfc7009',
    revokeToken: 'refresh_token',
  },
  google_drive: {
    name: 'google_drive',
    issuer: 'https://accounts.google.com',
    revocationEndpoint: 'https://oauth2.googleapis.com/revoke',
    defaultScopes: ['https://www.googleapis.com/auth/drive.file'],
    scopeSeparator: ' ',
    // Google issues a refresh token only with access_type=offline, and again only with consent.
    extraAuthorizationParams: { access_type: 'offline', prompt: 'consent', include_granted_scopes: 'true' },
    tokenEndpointAuthMethod: 'client_secret_post',
    revocationStyle: 'rfc7009',
    revokeToken: 'refresh_token',
  },
  quickbooks: {
    name: 'quickbooks',
    authorizationEndpoint: 'https://appcenter.intuit.com/connect/oauth2',
    tokenEndpoint: 'https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer',
    revocationEndpoint: 'https://developer.api.intuit.com/v2/oauth2/tokens/revoke',
    defaultScopes: ['com.intuit.quickbooks.accounting'],
    scopeSeparator: ' ',
    extraAuthorizationParams: {},
    tokenEndpointAuthMethod: 'client_secret_basic',
    revocationStyle: 'json_body',
    revokeToken: 'refresh_token',
  },
  slack: {
    name: 'slack',
    authorizationEndpoint: 'https://slack.com/oauth/v2/authorize',
    tokenEndpoint: 'https://slack.com/api/oauth.v2.access',
    revocationEndpoint: 'https://slack.com/api/auth.revoke',
    // Refresh tokens only when token rotation is enabled for the Slack app. Slack reports
    // errors as HTTP 200 with {"ok": false, "error": …}; the client treats that as an error.
    defaultScopes: ['chat:write', 'channels:read'],
    scopeSeparator: ',',
    extraAuthorizationParams: {},
    tokenEndpointAuthMethod: 'client_secret_post',
    revocationStyle: 'bearer',
    revokeToken: 'access_token',
  },
  clio: {
    name: 'clio',
    authorizationEndpoint: 'https://app.clio.com/oauth/authorize',
    tokenEndpoint: 'https://app.clio.com/oauth/token',
    revocationEndpoint: 'https://app.clio.com/oauth/deauthorize',
    defaultScopes: [],
    scopeSeparator: ' ',
    extraAuthorizationParams: {},
    tokenEndpointAuthMethod: 'client_secret_post',
    revocationStyle: 'bearer',
    revokeToken: 'access_token',
  },
};

/**
 * Every integration pointed at one local OpenID Connect provider (tests, development): the
 * published defaults with the endpoints replaced by discovery from `issuer`, RFC 7009
 * revocation, and `prompt=consent` (oidc-provider, like the OIDC spec, issues a refresh token
 * for `offline_access` only with explicit consent).
 */
export function localIntegrations(issuer: string): Record<IntegrationName, IntegrationConfig> {
  const out = {} as Record<IntegrationName, IntegrationConfig>;
  for (const name of INTEGRATIONS) {
    out[name] = {
      name,
      issuer,
      defaultScopes: ['openid', 'offline_access'],
      scopeSeparator: ' ',
      extraAuthorizationParams: { prompt: 'consent' },
      tokenEndpointAuthMethod: 'client_secret_basic',
      revocationStyle: 'rfc7009',
      revokeToken: 'refresh_token',
    };
  }
  return out;
}
