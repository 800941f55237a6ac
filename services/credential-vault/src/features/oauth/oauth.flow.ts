// The vault-side OAuth 2.0 flow: start (state + PKCE), callback (single-use state bound to the
// tenant and user who started it, code exchange with the verifier), keeping tokens fresh, and
// revocation at the provider. Storage is the `OAuthStore` interface so the vault backs it with
// Postgres (RLS per tenant) and encrypts what is secret with the tenant data key; tokens are
// *returned* to the caller, which encrypts and stores them in its own transaction.
import { createHash } from 'node:crypto';
import { isIntegrationName, type IntegrationName } from './integrations';
import type { OAuthClient, TokenResponse } from './oauth.client';
import { OAuthError } from './oauth.errors';
import { generateCodeVerifier, generateState, stateKey } from './pkce';

/** A pending authorization, saved at start and taken (once) at the callback. */
export interface PendingAuthorization {
  /** SHA-256 (hex) of the state; the state itself is never stored. */
  stateHash: string;
  /** SECRET: the PKCE verifier. Store it encrypted (tenant data key) — it turns a stolen code into tokens. */
  codeVerifier: string;
  tenantId: string;
  userId: string;
  integration: IntegrationName;
  scopes: string[];
  redirectUri: string;
  createdAt: Date;
  expiresAt: Date;
}

export interface OAuthStore {
  savePending(pending: PendingAuthorization): Promise<void>;
  /**
   * Atomically returns and deletes the pending authorization with this state hash, or null.
   * Single use is this method's job: with Postgres, `DELETE … WHERE state_hash = $1 RETURNING *`.
   * It must return the row even when expired (the flow reports STATE_EXPIRED and the row is gone).
   */
  takePending(stateHash: string): Promise<PendingAuthorization | null>;
}

/**
 * What the vault encrypts and stores for an OAuth credential. `accessToken` and `refreshToken`
 * are secrets (encrypt both; their field names are on the logger's redaction list); the rest is
 * metadata the vault may keep in plain columns.
 */
export interface OAuthTokenSet {
  integration: IntegrationName;
  accessToken: string;
  refreshToken: string | null;
  tokenType: string;
  scopes: string[];
  /** ISO 8601 UTC; null when the provider gave no expires_in (then only forceRefresh refreshes). */
  expiresAt: string | null;
  /** ISO 8601 UTC: when these tokens were obtained (code exchange or last refresh). */
  obtainedAt: string;
}

/** The pino methods the flow uses; pass the service logger (it redacts token fields anyway). */
export interface OAuthLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface OAuthFlowDeps {
  store: OAuthStore;
  /** The configured integrations; one client each. */
  clients: Partial<Record<IntegrationName, OAuthClient>>;
  /** The vault's callback URL, registered at every provider (e.g. the frontend's callback page). */
  redirectUri: string;
  logger?: OAuthLogger;
  now?: () => Date;
  /** How long a started authorization may wait for its callback (default 600 s). */
  stateTtlSeconds?: number;
  /** ensureFresh refreshes when the access token expires within this many seconds (default 60). */
  refreshMarginSeconds?: number;
}

export interface Principal {
  tenantId: string;
  userId: string;
}

export interface OAuthFlow {
  start(input: Principal & { integration: string; scopes?: readonly string[] }): Promise<{
    authorizationUrl: string;
    state: string;
    expiresAt: Date;
  }>;
  /**
   * The redirect back from the provider, presented by the same signed-in user. Consumes the
   * state whatever the outcome. `iss` is the RFC 9207 issuer parameter from the redirect.
   */
  callback(
    input: Principal & { state?: string | null; code?: string | null; error?: string | null; iss?: string | null },
  ): Promise<{ integration: IntegrationName; tenantId: string; userId: string; tokens: OAuthTokenSet }>;
  /**
   * Returns the same token set when the access token is valid for longer than the margin,
   * else a refreshed one (`refreshed: true` — the caller must store it: with rotating refresh
   * tokens the old one is now dead). Call it under a per-credential lock (SELECT … FOR UPDATE):
   * two replicas refreshing one rotating token at once would invalidate the grant.
   */
  ensureFresh(
    tokens: OAuthTokenSet,
    opts?: { now?: Date; forceRefresh?: boolean },
  ): Promise<{ tokens: OAuthTokenSet; refreshed: boolean }>;
  /** Revokes the grant at the provider (refresh token where the provider ends the grant with it). */
  revokeAtProvider(tokens: OAuthTokenSet): Promise<{ revoked: 'refresh_token' | 'access_token' }>;
}

const fingerprint = (secret: string): string => createHash('sha256').update(secret).digest('hex').slice(0, 32);

export function createOAuthFlow(deps: OAuthFlowDeps): OAuthFlow {
  const now = deps.now ?? (() => new Date());
  const stateTtlMs = (deps.stateTtlSeconds ?? 600) * 1000;
  const marginMs = (deps.refreshMarginSeconds ?? 60) * 1000;
  const log = deps.logger;
  // One refresh per refresh token at a time inside this process (concurrent callers share it).
  const inflight = new Map<string, Promise<OAuthTokenSet>>();

  const clientFor = (integration: string): OAuthClient => {
    // Only known names, and only own properties: `__proto__` or `constructor` must not resolve.
    const client =
      isIntegrationName(integration) && Object.hasOwn(deps.clients, integration)
        ? deps.clients[integration]
        : undefined;
    if (!client) throw new OAuthError('UNKNOWN_INTEGRATION', 'integration is not configured');
    return client;
  };

  const toTokenSet = (
    integration: IntegrationName,
    res: TokenResponse,
    at: Date,
    previous: { refreshToken: string | null; scopes: string[] },
  ): OAuthTokenSet => ({
    integration,
    accessToken: res.accessToken,
    // RFC 6749 §6: a refresh response may omit refresh_token; the old one then stays valid.
    refreshToken: res.refreshToken ?? previous.refreshToken,
    tokenType: res.tokenType,
    scopes: res.scope ?? previous.scopes,
    expiresAt: res.expiresIn === null ? null : new Date(at.getTime() + res.expiresIn * 1000).toISOString(),
    obtainedAt: at.toISOString(),
  });

  return {
    async start({ tenantId, userId, integration, scopes }) {
      const client = clientFor(integration);
      const name = client.integration.name;
      const state = generateState();
      const codeVerifier = generateCodeVerifier();
      const createdAt = now();
      const expiresAt = new Date(createdAt.getTime() + stateTtlMs);
      const wanted = [...(scopes && scopes.length > 0 ? scopes : client.integration.defaultScopes)];
      const authorizationUrl = await client.buildAuthorizationUrl({
        state,
        codeVerifier,
        scopes: wanted,
        redirectUri: deps.redirectUri,
      });
      await deps.store.savePending({
        stateHash: stateKey(state),
        codeVerifier,
        tenantId,
        userId,
        integration: name,
        scopes: wanted,
        redirectUri: deps.redirectUri,
        createdAt,
        expiresAt,
      });
      log?.info({ tenantId, userId, integration: name }, 'oauth authorization started');
      return { authorizationUrl, state, expiresAt };
    },

    async callback({ tenantId, userId, state, code, error, iss }) {
      const refuse = (codeName: 'STATE_INVALID' | 'STATE_EXPIRED' | 'STATE_MISMATCH', message: string): never => {
        log?.warn({ tenantId, userId, reason: codeName }, 'oauth callback refused');
        throw new OAuthError(codeName, message);
      };
      if (typeof state !== 'string' || state.length === 0 || state.length > 512) {
        return refuse('STATE_INVALID', 'state missing or malformed');
      }
      const pending = await deps.store.takePending(stateKey(state));
      if (!pending) return refuse('STATE_INVALID', 'state unknown or already used');
      if (pending.expiresAt.getTime() <= now().getTime()) return refuse('STATE_EXPIRED', 'state expired');
      if (pending.tenantId !== tenantId || pending.userId !== userId) {
        return refuse('STATE_MISMATCH', 'state was issued to another user');
      }
      const client = clientFor(pending.integration);
      const endpoints = await client.endpoints();
      // RFC 9207 (mix-up defence): when the provider announces the iss parameter, it must be
      // present and name the provider this authorization was started with.
      const issRequired = endpoints.authorizationResponseIssParameterSupported;
      if (endpoints.issuer !== null && (issRequired || (iss !== undefined && iss !== null))) {
        if (iss !== endpoints.issuer) return refuse('STATE_MISMATCH', 'authorization response from another issuer');
      }
      if (error) {
        const denied = new OAuthError('AUTHORIZATION_DENIED', 'the authorization request was not granted', {
          providerError: error,
        });
        log?.warn(
          { tenantId, userId, integration: pending.integration, providerError: denied.providerError },
          'oauth authorization denied',
        );
        throw denied;
      }
      if (typeof code !== 'string' || code.length === 0) {
        throw new OAuthError('INVALID_RESPONSE', 'authorization response has no code');
      }
      const obtainedAt = now();
      const res = await client.exchangeCode({
        code,
        codeVerifier: pending.codeVerifier,
        redirectUri: pending.redirectUri,
      });
      const tokens = toTokenSet(pending.integration, res, obtainedAt, { refreshToken: null, scopes: pending.scopes });
      log?.info(
        {
          tenantId,
          userId,
          integration: pending.integration,
          hasRefreshToken: tokens.refreshToken !== null,
          expiresAt: tokens.expiresAt,
        },
        'oauth tokens obtained',
      );
      return { integration: pending.integration, tenantId, userId, tokens };
    },

    async ensureFresh(tokens, opts = {}) {
      const at = opts.now ?? now();
      const expiresAt = tokens.expiresAt === null ? null : Date.parse(tokens.expiresAt);
      const due = opts.forceRefresh === true || (expiresAt !== null && expiresAt - at.getTime() <= marginMs);
      if (!due) return { tokens, refreshed: false };
      const { refreshToken } = tokens;
      if (!refreshToken) {
        throw new OAuthError('REAUTHORIZATION_REQUIRED', 'access token expiring and no refresh token');
      }
      const key = fingerprint(refreshToken);
      let pending = inflight.get(key);
      if (!pending) {
        const client = clientFor(tokens.integration);
        pending = client
          .refresh(refreshToken)
          .then((res) => toTokenSet(tokens.integration, res, at, tokens))
          .catch((e: unknown) => {
            if (e instanceof OAuthError && e.providerError === 'invalid_grant') {
              throw new OAuthError('REAUTHORIZATION_REQUIRED', 'the provider no longer accepts the refresh token', {
                providerError: 'invalid_grant',
                cause: e,
              });
            }
            throw e;
          })
          .finally(() => inflight.delete(key));
        inflight.set(key, pending);
      }
      const fresh = await pending;
      log?.info(
        {
          integration: tokens.integration,
          expiresAt: fresh.expiresAt,
          refreshTokenRotated: fresh.refreshToken !== refreshToken,
        },
        'oauth access token refreshed',
      );
      return { tokens: fresh, refreshed: true };
    },

    async revokeAtProvider(tokens) {
      const client = clientFor(tokens.integration);
      const which =
        client.integration.revokeToken === 'refresh_token' && tokens.refreshToken ? 'refresh_token' : 'access_token';
      const token = which === 'refresh_token' ? tokens.refreshToken : tokens.accessToken;
      await client.revoke(token ?? tokens.accessToken, which);
      log?.info({ integration: tokens.integration, revoked: which }, 'oauth grant revoked at the provider');
      return { revoked: which };
    },
  };
}

/**
 * An in-memory OAuthStore — for unit tests and as the reference semantics of the interface.
 * Not for production (a second replica would not see the state).
 */
export function createMemoryOAuthStore(): OAuthStore & { size(): number } {
  const rows = new Map<string, PendingAuthorization>();
  return {
    savePending(pending) {
      if (rows.has(pending.stateHash)) return Promise.reject(new Error('duplicate state'));
      rows.set(pending.stateHash, { ...pending, scopes: [...pending.scopes] });
      return Promise.resolve();
    },
    takePending(stateHash) {
      const row = rows.get(stateHash) ?? null;
      rows.delete(stateHash);
      return Promise.resolve(row);
    },
    size: () => rows.size,
  };
}
