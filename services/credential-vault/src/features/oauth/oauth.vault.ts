// The OAuth2 flow wired into the vault: pending authorizations in Postgres (RLS per company,
// code verifier sealed with the company's data key), the two routes' service logic, and the
// clients built from the vault's configuration. Token sets are stored as ordinary `oauth2`
// credentials through `credentials.store()` (secret = the token set as JSON, sealed).
import { readFileSync } from 'node:fs';
import type { Actor } from '@flow8/contracts';
import { associatedData, open, seal } from '@flow8/crypto';
import { withTenant, type Pool } from '@flow8/db';
import { AppError } from '@flow8/http';
import type { Logger } from '@flow8/telemetry';
import type { VaultConfig } from '../../config';
import type { Keyring } from '../../keyring/keyring';
import { dataKeyById } from '../../keyring/keyring.repo';
import type { Access, Caller } from '../../principal';
import type { CredentialView } from '../credentials/credentials.service';
import { unknownScopes } from '../credentials/scopes';
import {
  INTEGRATIONS,
  isIntegrationName,
  localIntegrations,
  PROVIDER_DEFAULTS,
  type IntegrationName,
} from './integrations';
import { createOAuthClient, type OAuthClient } from './oauth.client';
import { OAuthError } from './oauth.errors';
import { createOAuthFlow, type OAuthFlow, type OAuthStore, type PendingAuthorization } from './oauth.flow';

/** The field bound into the sealed code verifier's associated data. */
export const CODE_VERIFIER_FIELD = 'oauth_code_verifier';

export interface OAuthSettings {
  clients: Partial<Record<IntegrationName, OAuthClient>>;
  redirectUri: string;
  stateTtlSeconds: number;
  refreshMarginSeconds: number;
}

/** The configured integrations (client id + secret set), or null when OAuth2 is not configured. */
export function oauthSettingsFromConfig(config: VaultConfig): OAuthSettings | null {
  if (!config.VAULT_OAUTH_REDIRECT_URI) return null;
  const ca = config.VAULT_OAUTH_CA_FILE ? readFileSync(config.VAULT_OAUTH_CA_FILE) : undefined;
  const clients: Partial<Record<IntegrationName, OAuthClient>> = {};
  for (const name of INTEGRATIONS) {
    const u = name.toUpperCase() as Uppercase<IntegrationName>;
    const clientId = config[`VAULT_OAUTH_${u}_CLIENT_ID`];
    const clientSecret = config[`VAULT_OAUTH_${u}_CLIENT_SECRET`];
    if (!clientId || !clientSecret) continue;
    const issuer = config[`VAULT_OAUTH_${u}_ISSUER`];
    clients[name] = createOAuthClient({
      integration: issuer ? localIntegrations(issuer)[name] : PROVIDER_DEFAULTS[name],
      credentials: { clientId, clientSecret },
      egress: { ca, allowPrivateHosts: config[`VAULT_OAUTH_${u}_ALLOW_PRIVATE_HOSTS`] ?? [] },
    });
  }
  return {
    clients,
    redirectUri: config.VAULT_OAUTH_REDIRECT_URI,
    stateTtlSeconds: Math.round(config.VAULT_OAUTH_STATE_TTL / 1000),
    refreshMarginSeconds: Math.round(config.VAULT_OAUTH_REFRESH_MARGIN / 1000),
  };
}

/** What the vault keeps with a pending authorization besides the module's fields. */
interface PendingExtras {
  name: string;
  credentialScopes: string[];
}

type PendingRaw = {
  state_hash: string;
  tenant_id: string;
  user_id: string;
  integration: IntegrationName;
  name: string;
  credential_scopes: string[];
  provider_scopes: string[];
  redirect_uri: string;
  code_verifier: Buffer;
  data_key_id: string;
  created_at: Date;
  expires_at: Date;
};

/**
 * An OAuthStore bound to one company (RLS) and one request: `savePending` stores `extras`,
 * `takePending` hands the taken row's extras to `onTaken`.
 */
function pgPendingStore(deps: {
  pool: Pool;
  keyring: Pick<Keyring, 'activeKey' | 'unwrap'>;
  logger: Logger;
  tenantId: string;
  extras?: PendingExtras;
  onTaken?: (extras: PendingExtras) => void;
}): OAuthStore {
  const { pool, keyring, tenantId } = deps;
  const ad = (stateHash: string) =>
    associatedData({ tenantId, recordId: stateHash, version: 1, field: CODE_VERIFIER_FIELD });
  return {
    async savePending(p: PendingAuthorization) {
      const extras = deps.extras;
      if (!extras || p.tenantId !== tenantId) throw new Error('pending authorization outside its request');
      await withTenant(pool, tenantId, async (tx) => {
        await tx.query('DELETE FROM oauth_pending WHERE tenant_id = $1 AND expires_at < now()', [tenantId]);
        const dk = await keyring.activeKey(tx, tenantId, p.userId);
        const sealed = seal({
          key: dk.key,
          keyId: Buffer.from(dk.id, 'hex'),
          plaintext: new TextEncoder().encode(p.codeVerifier),
          ad: ad(p.stateHash),
        });
        await tx.query(
          `INSERT INTO oauth_pending (state_hash, tenant_id, user_id, integration, name, credential_scopes,
             provider_scopes, redirect_uri, code_verifier, data_key_id, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
          [
            p.stateHash,
            tenantId,
            p.userId,
            p.integration,
            extras.name,
            extras.credentialScopes,
            p.scopes,
            p.redirectUri,
            Buffer.from(sealed),
            dk.id,
            p.createdAt,
            p.expiresAt,
          ],
        );
      });
    },
    async takePending(stateHash: string) {
      return withTenant(pool, tenantId, async (tx) => {
        // Single use across replicas: the row is gone whatever happens next.
        const { rows } = await tx.query<PendingRaw>(
          'DELETE FROM oauth_pending WHERE tenant_id = $1 AND state_hash = $2 RETURNING *',
          [tenantId, stateHash],
        );
        const r = rows[0];
        if (!r) return null;
        const dk = await dataKeyById(tx, tenantId, r.data_key_id);
        let codeVerifier: string;
        try {
          const key = dk?.wrapped ? keyring.unwrap(dk) : undefined;
          codeVerifier = new TextDecoder().decode(
            open({
              keys: (id) => (id === r.data_key_id ? key : undefined),
              sealed: new Uint8Array(r.code_verifier),
              ad: ad(stateHash),
            }),
          );
        } catch (e) {
          deps.logger.error({ err: e, dataKeyId: r.data_key_id }, 'oauth pending authorization could not be opened');
          return null;
        }
        deps.onTaken?.({ name: r.name, credentialScopes: r.credential_scopes });
        return {
          stateHash: r.state_hash,
          codeVerifier,
          tenantId: r.tenant_id,
          userId: r.user_id,
          integration: r.integration,
          scopes: r.provider_scopes,
          redirectUri: r.redirect_uri,
          createdAt: r.created_at,
          expiresAt: r.expires_at,
        };
      });
    },
  };
}

/** OAuth errors → API errors; provider-side failures are 503 with a masked message. */
export function oauthAppError(e: unknown): unknown {
  if (!(e instanceof OAuthError)) return e;
  switch (e.code) {
    case 'STATE_INVALID':
    case 'STATE_EXPIRED':
    case 'STATE_MISMATCH':
    case 'AUTHORIZATION_DENIED':
    case 'UNKNOWN_INTEGRATION':
      return new AppError('BAD_REQUEST', e.message, { details: { reason: e.code } });
    case 'REAUTHORIZATION_REQUIRED':
      return new AppError('CONFLICT', 'The provider no longer accepts this grant; connect the integration again', {
        details: { reason: 'reauthorization_required' },
        cause: e,
      });
    default:
      return new AppError('UNAVAILABLE', 'The OAuth provider could not be reached or answered unexpectedly', {
        cause: e,
      });
  }
}

export function createOAuthService(deps: {
  pool: Pool;
  keyring: Pick<Keyring, 'activeKey' | 'unwrap'>;
  logger: Logger;
  access: Access;
  settings: OAuthSettings;
  store: (
    tenantId: string,
    actor: Actor,
    input: {
      integration: IntegrationName;
      name: string;
      kind: 'oauth2';
      scopes: string[];
      secret: string;
    },
  ) => Promise<CredentialView>;
  /** The clock token expiry and state lifetime are judged by (default: the system clock). */
  now?: () => Date;
}) {
  const { settings, logger } = deps;
  const flowWith = (store: OAuthStore): OAuthFlow =>
    createOAuthFlow({
      store,
      clients: settings.clients,
      redirectUri: settings.redirectUri,
      logger,
      stateTtlSeconds: settings.stateTtlSeconds,
      refreshMarginSeconds: settings.refreshMarginSeconds,
      now: deps.now,
    });
  // The flow used for refresh and revocation: one per process, so concurrent refreshes of one
  // token inside this replica share one request. It never touches pending authorizations.
  const shared = flowWith({
    savePending: () => Promise.reject(new Error('not used')),
    takePending: () => Promise.resolve(null),
  });

  return {
    ensureFresh: shared.ensureFresh,
    revokeAtProvider: shared.revokeAtProvider,

    async start(caller: Caller, integration: string, input: { name: string; scopes: string[] }) {
      if (!isIntegrationName(integration) || !Object.hasOwn(settings.clients, integration)) {
        throw new AppError('BAD_REQUEST', 'This integration is not configured for OAuth2');
      }
      await deps.access.authorize(caller, 'credentials:write', integration);
      const unknown = unknownScopes(integration, input.scopes);
      if (unknown.length > 0) {
        throw new AppError('BAD_REQUEST', `Unknown scope(s) for ${integration}: ${unknown.join(', ')}`);
      }
      const flow = flowWith(
        pgPendingStore({
          ...deps,
          tenantId: caller.tenantId,
          extras: { name: input.name.trim(), credentialScopes: [...new Set(input.scopes)] },
        }),
      );
      try {
        const r = await flow.start({ tenantId: caller.tenantId, userId: caller.actor.id, integration });
        return { authorizationUrl: r.authorizationUrl, state: r.state, expiresAt: r.expiresAt.toISOString() };
      } catch (e) {
        throw oauthAppError(e);
      }
    },

    async callback(
      caller: Caller,
      q: { state?: string; code?: string; iss?: string; error?: string },
    ): Promise<CredentialView> {
      await deps.access.authorize(caller, 'credentials:write');
      let extras: PendingExtras | undefined;
      const flow = flowWith(
        pgPendingStore({
          ...deps,
          tenantId: caller.tenantId,
          onTaken: (x) => {
            extras = x;
          },
        }),
      );
      try {
        const r = await flow.callback({
          tenantId: caller.tenantId,
          userId: caller.actor.id,
          state: q.state ?? null,
          code: q.code ?? null,
          iss: q.iss ?? null,
          error: q.error ?? null,
        });
        if (!extras) throw new Error('pending authorization without its credential settings');
        await deps.access.authorize(caller, 'credentials:write', r.integration);
        return await deps.store(caller.tenantId, caller.actor, {
          integration: r.integration,
          name: extras.name,
          kind: 'oauth2',
          scopes: extras.credentialScopes,
          secret: JSON.stringify(r.tokens),
        });
      } catch (e) {
        throw oauthAppError(e);
      }
    },
  };
}

export type OAuthService = ReturnType<typeof createOAuthService>;
