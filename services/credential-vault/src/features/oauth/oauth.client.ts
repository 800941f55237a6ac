// The client side of OAuth 2.0 for one integration: discovery (RFC 8414 / OIDC Discovery), the
// authorization URL with PKCE S256 (RFC 7636), the code exchange and refresh (RFC 6749 §4.1.3,
// §6) and revocation (RFC 7009 and the providers' variants). Transport is node:https through
// `egress.ts` (https only, CA verified, private addresses refused, no redirects followed).
//
// Nothing here logs, and no error carries a token, code or verifier: errors are built from our
// own text, the HTTP status and the provider's `error` identifier.
import { egressRequest, type EgressOptions, type EgressResponse } from './egress';
import { INTEGRATIONS, type ClientCredentials, type IntegrationConfig, type IntegrationName } from './integrations';
import { OAuthError } from './oauth.errors';
import { codeChallengeS256 } from './pkce';

export interface ResolvedEndpoints {
  issuer: string | null;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  revocationEndpoint: string | null;
  /** RFC 9207: the provider puts `iss` in the authorization response; the callback must check it. */
  authorizationResponseIssParameterSupported: boolean;
}

/** A token endpoint response (RFC 6749 §5.1), parsed. */
export interface TokenResponse {
  accessToken: string;
  tokenType: string;
  /** seconds, when the provider says */
  expiresIn: number | null;
  refreshToken: string | null;
  /** granted scopes, when the provider says (else: as requested) */
  scope: string[] | null;
}

export interface OAuthClient {
  readonly integration: IntegrationConfig;
  /** Discovery once, then cached; explicit endpoints in the config win over discovered ones. */
  endpoints(): Promise<ResolvedEndpoints>;
  buildAuthorizationUrl(input: {
    state: string;
    codeVerifier: string;
    scopes: readonly string[];
    redirectUri: string;
  }): Promise<string>;
  exchangeCode(input: { code: string; codeVerifier: string; redirectUri: string }): Promise<TokenResponse>;
  refresh(refreshToken: string, scopes?: readonly string[]): Promise<TokenResponse>;
  revoke(token: string, hint: 'refresh_token' | 'access_token'): Promise<void>;
}

export interface OAuthClientOptions {
  integration: IntegrationConfig;
  credentials: ClientCredentials;
  egress?: EgressOptions;
}

function parseJson(res: EgressResponse, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    throw new OAuthError('INVALID_RESPONSE', `${what}: response is not JSON`, { httpStatus: res.status });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new OAuthError('INVALID_RESPONSE', `${what}: response is not a JSON object`, { httpStatus: res.status });
  }
  return parsed as Record<string, unknown>;
}

const optionalString = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

export function createOAuthClient(opts: OAuthClientOptions): OAuthClient {
  const { integration, credentials } = opts;
  const egress = opts.egress ?? {};
  let discovered: Promise<ResolvedEndpoints> | null = null;

  const discover = async (): Promise<ResolvedEndpoints> => {
    let meta: Record<string, unknown> = {};
    if (integration.issuer) {
      const issuer = integration.issuer.replace(/\/$/, '');
      const url = new URL(`${issuer}/.well-known/openid-configuration`);
      const res = await egressRequest(url, egress, { method: 'GET' });
      if (res.status !== 200) {
        throw new OAuthError('DISCOVERY_FAILED', `discovery answered HTTP ${res.status}`, { httpStatus: res.status });
      }
      meta = parseJson(res, 'discovery');
      // OIDC Discovery §4.3 / RFC 8414 §3.3: the document must name exactly the issuer asked for,
      // or a compromised/misconfigured host could redirect us to another provider's endpoints.
      if (meta.issuer !== issuer) throw new OAuthError('DISCOVERY_FAILED', 'discovery names a different issuer');
      const methods = meta.code_challenge_methods_supported;
      if (Array.isArray(methods) && !methods.includes('S256')) {
        throw new OAuthError('DISCOVERY_FAILED', 'provider does not support PKCE S256');
      }
    }
    const authorizationEndpoint = integration.authorizationEndpoint ?? optionalString(meta.authorization_endpoint);
    const tokenEndpoint = integration.tokenEndpoint ?? optionalString(meta.token_endpoint);
    if (!authorizationEndpoint || !tokenEndpoint) {
      throw new OAuthError('DISCOVERY_FAILED', 'authorization or token endpoint unknown');
    }
    const revocationEndpoint = integration.revocationEndpoint ?? optionalString(meta.revocation_endpoint);
    for (const e of [authorizationEndpoint, tokenEndpoint, revocationEndpoint]) {
      if (e) assertHttps(e);
    }
    return {
      issuer: integration.issuer ? integration.issuer.replace(/\/$/, '') : null,
      authorizationEndpoint,
      tokenEndpoint,
      revocationEndpoint,
      authorizationResponseIssParameterSupported: meta.authorization_response_iss_parameter_supported === true,
    };
  };

  const endpoints = (): Promise<ResolvedEndpoints> => {
    discovered ??= discover().catch((e: unknown) => {
      discovered = null; // a failed discovery is retried next time, not cached
      throw e;
    });
    return discovered;
  };

  const clientAuth = (form: URLSearchParams): Record<string, string> => {
    if (integration.tokenEndpointAuthMethod === 'client_secret_post') {
      form.set('client_id', credentials.clientId);
      form.set('client_secret', credentials.clientSecret);
      return {};
    }
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
    const basic = Buffer.from(
      `${encodeURIComponent(credentials.clientId)}:${encodeURIComponent(credentials.clientSecret)}`,
    ).toString('base64');
    return { authorization: `Basic ${basic}` };
  };

  const tokenRequest = async (form: URLSearchParams, what: string): Promise<TokenResponse> => {
    const { tokenEndpoint } = await endpoints();
    const headers = clientAuth(form);
    const res = await egressRequest(new URL(tokenEndpoint), egress, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    const body = parseJson(res, what);
    // Slack answers errors with HTTP 200 and {"ok": false}.
    if (res.status !== 200 || body.ok === false || typeof body.error === 'string') {
      throw new OAuthError('PROVIDER_ERROR', `${what} refused by the provider (HTTP ${res.status})`, {
        providerError: body.error ?? 'unknown_error',
        httpStatus: res.status,
      });
    }
    const accessToken = optionalString(body.access_token);
    if (!accessToken) throw new OAuthError('INVALID_RESPONSE', `${what}: no access_token in the response`);
    const expiresIn =
      typeof body.expires_in === 'number'
        ? body.expires_in
        : typeof body.expires_in === 'string' && /^\d+$/.test(body.expires_in)
          ? Number(body.expires_in)
          : null;
    const scope = optionalString(body.scope);
    return {
      accessToken,
      tokenType: optionalString(body.token_type) ?? 'Bearer',
      expiresIn,
      refreshToken: optionalString(body.refresh_token),
      scope: scope ? scope.split(/[ ,]+/).filter(Boolean) : null,
    };
  };

  return {
    integration,
    endpoints,

    async buildAuthorizationUrl({ state, codeVerifier, scopes, redirectUri }) {
      const { authorizationEndpoint } = await endpoints();
      const url = new URL(authorizationEndpoint);
      const params: Record<string, string> = {
        ...integration.extraAuthorizationParams,
        response_type: 'code',
        client_id: credentials.clientId,
        redirect_uri: redirectUri,
        state,
        code_challenge: codeChallengeS256(codeVerifier),
        code_challenge_method: 'S256',
      };
      if (scopes.length > 0) params.scope = scopes.join(integration.scopeSeparator);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      return url.toString();
    },

    exchangeCode({ code, codeVerifier, redirectUri }) {
      const form = new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        code_verifier: codeVerifier,
      });
      return tokenRequest(form, 'code exchange');
    },

    refresh(refreshToken, scopes) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
      if (scopes && scopes.length > 0) form.set('scope', scopes.join(integration.scopeSeparator));
      return tokenRequest(form, 'refresh');
    },

    async revoke(token, hint) {
      const { revocationEndpoint } = await endpoints();
      if (!revocationEndpoint) {
        throw new OAuthError('REVOCATION_UNSUPPORTED', `${integration.name} has no revocation endpoint`);
      }
      const url = new URL(revocationEndpoint);
      let res: EgressResponse;
      switch (integration.revocationStyle) {
        case 'rfc7009': {
          const form = new URLSearchParams({ token, token_type_hint: hint });
          const headers = clientAuth(form);
          res = await egressRequest(url, egress, {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
            body: form.toString(),
          });
          break;
        }
        case 'json_body': {
          const headers = clientAuth(new URLSearchParams());
          res = await egressRequest(url, egress, {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json' },
            body: JSON.stringify({ token }),
          });
          break;
        }
        case 'bearer':
          res = await egressRequest(url, egress, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
            body: '',
          });
          break;
        default: {
          const never: never = integration.revocationStyle;
          throw new OAuthError('REVOCATION_UNSUPPORTED', `revocation style ${String(never)} unknown`);
        }
      }
      // RFC 7009 §2.2: 200 also for a token that was already invalid — the goal state is reached.
      if (res.status !== 200 && res.status !== 204) {
        let providerError: unknown = 'unknown_error';
        try {
          providerError = (JSON.parse(res.body) as { error?: unknown }).error;
        } catch {
          // not JSON: keep the generic code
        }
        throw new OAuthError('PROVIDER_ERROR', `revocation refused by the provider (HTTP ${res.status})`, {
          providerError,
          httpStatus: res.status,
        });
      }
    },
  };

  function assertHttps(endpoint: string): void {
    let parsed: URL;
    try {
      parsed = new URL(endpoint);
    } catch {
      throw new OAuthError('DISCOVERY_FAILED', 'an endpoint is not a URL');
    }
    if (parsed.protocol !== 'https:') throw new OAuthError('EGRESS_REFUSED', 'OAuth endpoints must use https');
  }
}

/** One client per integration that has credentials configured (unconfigured ones are left out). */
export function createOAuthClients(
  integrations: Readonly<Record<IntegrationName, IntegrationConfig>>,
  credentials: Partial<Record<IntegrationName, ClientCredentials>>,
  egress: EgressOptions = {},
): Partial<Record<IntegrationName, OAuthClient>> {
  const out: Partial<Record<IntegrationName, OAuthClient>> = {};
  for (const name of INTEGRATIONS) {
    const creds = credentials[name];
    if (creds) out[name] = createOAuthClient({ integration: integrations[name], credentials: creds, egress });
  }
  return out;
}
