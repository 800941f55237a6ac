// Integration credentials: sealed the moment they arrive, metadata only on the way out, rotated
// to a new version (the old one stops at once), revoked, and resolved — only for the flow
// engine, only for a live principal of the company its signed call names (with that principal's
// real role and grants from the replicated copy), only within their scopes, every use and every
// refusal audited.
import type { Outbox } from '@flow8/bus';
import { newId, type Actor } from '@flow8/contracts';
import type { ReplicatedPrincipal } from '@flow8/grants';
import { associatedData, DecryptError, open, seal } from '@flow8/crypto';
import { withTenant, type Pool, type Queryable } from '@flow8/db';
import type { Decision } from '@flow8/authz';
import { AppError } from '@flow8/http';
import type { Logger } from '@flow8/telemetry';
import type { Keyring } from '../../keyring/keyring';
import { decodeCursor, page } from '@flow8/http';
import type { OAuthFlow, OAuthTokenSet } from '../oauth/oauth.flow';
import {
  grantHolders,
  replicatedAuthzPrincipal,
  VAULT_ACTOR,
  type Access,
  type Caller,
  type ServiceCaller,
} from '../../principal';
import {
  endVersion,
  getCredential,
  getForResolve,
  getSealedSecret,
  insertCredential,
  insertVersion,
  listCredentials,
  lockCredential,
  markRevoked,
  resolveGrants,
  setCurrentVersion,
  type CredentialRow,
  type SealedSecretRow,
} from './credentials.repo';
import { scopeAllows, unknownScopes, type CredentialKind, type Integration } from './scopes';

/** The field name bound into every credential secret's associated data. */
export const SECRET_FIELD = 'secret';

export interface CredentialView {
  id: string;
  integration: Integration;
  name: string;
  kind: CredentialKind;
  scopes: string[];
  status: 'active' | 'revoked';
  version: number;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  revokedAt: string | null;
}

export const credentialView = (c: CredentialRow): CredentialView => ({
  id: c.id,
  integration: c.integration,
  name: c.name,
  kind: c.kind,
  scopes: c.scopes,
  status: c.status,
  version: c.currentVersion,
  createdAt: c.createdAt.toISOString(),
  createdBy: c.createdBy,
  updatedAt: c.updatedAt.toISOString(),
  revokedAt: c.revokedAt?.toISOString() ?? null,
});

export interface CreateCredentialInput {
  integration: Integration;
  name: string;
  kind: CredentialKind;
  scopes: string[];
  secret: string;
}

/**
 * What the flow engine says about the step. The company and whom the step runs for are NOT here:
 * they come from the signed service call (ServiceCaller), never from the body.
 */
export interface ResolveInput {
  flowId: string;
  executionId: string;
  stepId: string;
  scope: string;
  purpose: string;
}

export type RefusalReason =
  | 'not_found'
  | 'revoked'
  | 'not_permitted'
  | 'scope_not_granted'
  | 'integrity_check_failed'
  | 'key_unavailable'
  | 'refresh_failed';

/** The AppError a refusal answers with. 5xx text is masked by the error handler, so none is 5xx except a missing key. */
function refusalError(reason: RefusalReason, cause?: unknown, unknownPrincipal = false): AppError {
  if (unknownPrincipal)
    return new AppError('FORBIDDEN', 'The principal this step runs for is not a member of this company', {
      details: { reason },
    });
  switch (reason) {
    case 'not_found':
      return new AppError('NOT_FOUND', 'Credential not found');
    case 'revoked':
      return new AppError('FORBIDDEN', 'This credential has been revoked', { details: { reason } });
    case 'not_permitted':
      return new AppError('FORBIDDEN', 'The principal this step runs for may not use this integration', {
        details: { reason },
      });
    case 'scope_not_granted':
      return new AppError('FORBIDDEN', 'This credential does not grant the required scope', { details: { reason } });
    case 'refresh_failed':
      // Answered with the OAuth module's own error (see resolve); this is only the fallback.
      return new AppError('UNAVAILABLE', 'The provider did not refresh the access token', { cause });
    case 'integrity_check_failed':
      // Deterministic, not transient: the stored ciphertext does not belong to this credential.
      return new AppError('CONFLICT', 'The stored secret failed its integrity check and cannot be used', {
        details: { reason },
        cause,
      });
    case 'key_unavailable':
      return new AppError('UNAVAILABLE', 'The key that sealed this credential is not available', { cause });
    default: {
      const unreachable: never = reason;
      throw new Error(`unknown refusal ${String(unreachable)}`);
    }
  }
}

/** A decision's reason with the grants that took part, for the audit event. */
const decisionDetail = (d: Decision): string =>
  (d.grantIds.length > 0 ? `${d.reason} (grants ${d.grantIds.join(', ')})` : d.reason).slice(0, 1000);

/** The provider refused or failed to refresh an OAuth2 access token (cause: the OAuth module's error). */
class RefreshFailedError extends Error {
  constructor(cause: unknown) {
    super('oauth2 refresh failed', { cause });
    this.name = 'RefreshFailedError';
  }
}

/** The data key exists but would not unwrap (its root key is not configured, or it was tampered with). */
class KeyUnavailableError extends Error {
  constructor(cause: unknown) {
    super('data key unavailable', { cause });
    this.name = 'KeyUnavailableError';
  }
}

/**
 * The token set of a grant stored by the OAuth2 flow, or null for any other `oauth2` secret (one
 * entered by hand through POST /v1/credentials is returned as it is, never refreshed).
 */
function parseTokenSet(secret: string, integration: Integration): OAuthTokenSet | null {
  if (!secret.startsWith('{')) return null;
  try {
    const t = JSON.parse(secret) as Partial<OAuthTokenSet> | null;
    if (t && typeof t.accessToken === 'string' && t.integration === integration) return t as OAuthTokenSet;
  } catch {
    // not a token set
  }
  return null;
}

export function createCredentialService(deps: {
  pool: Pool;
  outbox: Pick<Outbox, 'emit'>;
  keyring: Pick<Keyring, 'activeKey' | 'unwrap'>;
  logger: Logger;
  access: Access;
  /** The OAuth2 module: refresh on resolve, revocation at the provider on delete. */
  oauth?: Pick<OAuthFlow, 'ensureFresh' | 'revokeAtProvider'> & { toAppError: (e: unknown) => unknown };
}) {
  const { pool, outbox, keyring, access } = deps;
  const enc = new TextEncoder();
  const dec = new TextDecoder();

  function unwrapOrUnavailable(dataKeyId: string, tenantId: string, wrapped: Buffer): Uint8Array {
    try {
      return keyring.unwrap({ id: dataKeyId, tenantId, wrapped });
    } catch (e) {
      throw new KeyUnavailableError(e);
    }
  }

  async function sealSecret(
    tx: Queryable,
    tenantId: string,
    credentialId: string,
    version: number,
    secret: string,
    actorId: string,
  ) {
    const dk = await keyring.activeKey(tx, tenantId, actorId);
    const ciphertext = seal({
      key: dk.key,
      keyId: Buffer.from(dk.id, 'hex'),
      plaintext: enc.encode(secret),
      ad: associatedData({ tenantId, recordId: credentialId, version, field: SECRET_FIELD }),
    });
    return { ciphertext, dataKeyId: dk.id };
  }

  /** Opens the current version's sealed secret (throws KeyUnavailableError or DecryptError). */
  function openSecret(
    tenantId: string,
    id: string,
    found: Pick<SealedSecretRow, 'ciphertext' | 'dataKeyId' | 'wrapped'> & {
      credential: Pick<CredentialRow, 'currentVersion'>;
    },
  ): string {
    const { dataKeyId, wrapped, ciphertext } = found;
    if (!ciphertext || !dataKeyId) throw new Error('no current secret');
    const plaintext = open({
      keys: (keyId) => (keyId === dataKeyId && wrapped ? unwrapOrUnavailable(dataKeyId, tenantId, wrapped) : undefined),
      sealed: new Uint8Array(ciphertext),
      ad: associatedData({ tenantId, recordId: id, version: found.credential.currentVersion, field: SECRET_FIELD }),
    });
    return dec.decode(plaintext);
  }

  /**
   * An oauth2 credential's token set, refreshed when the access token is about to expire. Runs
   * under the caller's FOR UPDATE lock on the credential, so two replicas never spend one
   * (rotating) refresh token twice; a refreshed set is stored as a new sealed version at once.
   * Returns the access token and the version that holds it.
   */
  async function freshAccessToken(
    tx: Queryable,
    tenantId: string,
    row: Pick<CredentialRow, 'id' | 'integration' | 'currentVersion'>,
    secret: string,
  ): Promise<{ version: number; accessToken: string }> {
    const oauth = deps.oauth;
    const tokens = parseTokenSet(secret, row.integration);
    if (!tokens) return { version: row.currentVersion, accessToken: secret };
    if (!oauth) return { version: row.currentVersion, accessToken: tokens.accessToken };
    let fresh: { tokens: OAuthTokenSet; refreshed: boolean };
    try {
      fresh = await oauth.ensureFresh(tokens);
    } catch (e) {
      deps.logger.warn({ credentialId: row.id, integration: row.integration, err: e }, 'oauth refresh failed');
      throw new RefreshFailedError(e);
    }
    if (!fresh.refreshed) return { version: row.currentVersion, accessToken: tokens.accessToken };
    const previous = row.currentVersion;
    const version = previous + 1;
    await endVersion(tx, row.id, previous, 'superseded');
    const sealed = await sealSecret(tx, tenantId, row.id, version, JSON.stringify(fresh.tokens), VAULT_ACTOR.id);
    await insertVersion(tx, { tenantId, credentialId: row.id, version, ...sealed });
    await setCurrentVersion(tx, row.id, version);
    // The rotated event has no reason field (proto/events/vault); the reason is in the log.
    await outbox.emit(tx, {
      type: 'vault.credential.rotated',
      tenantId,
      actor: VAULT_ACTOR,
      resource: { type: 'credential', id: row.id },
      payload: {
        credentialId: row.id,
        integration: row.integration,
        version,
        previousVersion: previous,
        dataKeyId: sealed.dataKeyId,
      },
    });
    deps.logger.info(
      { credentialId: row.id, integration: row.integration, version, previousVersion: previous, reason: 'refreshed' },
      'oauth2 credential refreshed',
    );
    return { version, accessToken: fresh.tokens.accessToken };
  }

  function validate(input: Pick<CreateCredentialInput, 'integration' | 'scopes'>): void {
    const unknown = unknownScopes(input.integration, input.scopes);
    if (unknown.length > 0)
      throw new AppError('BAD_REQUEST', `Unknown scope(s) for ${input.integration}: ${unknown.join(', ')}`, {
        details: unknown.map((s) => ({ field: 'body.scopes', message: `${s} is not a ${input.integration} scope` })),
      });
  }

  /** Stores a credential for a company without an authorization check (the OAuth2 module, after its own). */
  async function store(tenantId: string, actor: Actor, input: CreateCredentialInput): Promise<CredentialView> {
    validate(input);
    const id = newId('crd');
    return withTenant(pool, tenantId, async (tx) => {
      const row = await insertCredential(tx, {
        id,
        tenantId,
        integration: input.integration,
        name: input.name.trim(),
        kind: input.kind,
        scopes: [...new Set(input.scopes)],
        createdBy: actor.id,
      });
      const sealed = await sealSecret(tx, tenantId, id, 1, input.secret, actor.id);
      await insertVersion(tx, { tenantId, credentialId: id, version: 1, ...sealed });
      await outbox.emit(tx, {
        type: 'vault.credential.created',
        tenantId,
        actor,
        resource: { type: 'credential', id },
        payload: {
          credentialId: id,
          integration: row.integration,
          kind: row.kind,
          scopes: row.scopes as [string, ...string[]],
          version: 1,
          dataKeyId: sealed.dataKeyId,
        },
      });
      return credentialView(row);
    });
  }

  return {
    store,

    async create(caller: Caller, input: CreateCredentialInput): Promise<CredentialView> {
      await access.authorize(caller, 'credentials:write', input.integration);
      return store(caller.tenantId, caller.actor, input);
    },

    async list(caller: Caller, opts: { limit: number; cursor?: string }) {
      await access.authorize(caller, 'credentials:read');
      // Integration grants narrow what a principal sees: only credentials of readable integrations.
      const integrations = await access.readableIntegrations(caller);
      const afterId = opts.cursor ? decodeCursor(opts.cursor, 'crd') : undefined;
      const rows = await withTenant(pool, caller.tenantId, (tx) =>
        listCredentials(tx, caller.tenantId, { afterId, limit: opts.limit + 1, integrations }),
      );
      return page(rows, opts.limit, credentialView);
    },

    async get(caller: Caller, id: string): Promise<CredentialView> {
      await access.authorize(caller, 'credentials:read');
      const row = await withTenant(pool, caller.tenantId, (tx) => getCredential(tx, caller.tenantId, id));
      // Not readable by grant = not there, exactly as in the list.
      if (!row || !(await access.readableIntegrations(caller)).includes(row.integration))
        throw new AppError('NOT_FOUND', 'Credential not found');
      return credentialView(row);
    },

    /** A new version with a new secret; the previous version's sealed secret is destroyed in the same transaction. */
    async rotate(caller: Caller, id: string, input: { secret: string }): Promise<CredentialView> {
      await access.authorize(caller, 'credentials:write');
      return withTenant(pool, caller.tenantId, async (tx) => {
        const row = await getCredential(tx, caller.tenantId, id, { forUpdate: true });
        if (!row) throw new AppError('NOT_FOUND', 'Credential not found');
        await access.authorize(caller, 'credentials:write', row.integration);
        if (row.status === 'revoked') throw new AppError('CONFLICT', 'A revoked credential cannot be rotated');
        const previous = row.currentVersion;
        const version = previous + 1;
        await endVersion(tx, id, previous, 'superseded');
        const sealed = await sealSecret(tx, caller.tenantId, id, version, input.secret, caller.actor.id);
        await insertVersion(tx, { tenantId: caller.tenantId, credentialId: id, version, ...sealed });
        await setCurrentVersion(tx, id, version);
        await outbox.emit(tx, {
          type: 'vault.credential.rotated',
          tenantId: caller.tenantId,
          actor: caller.actor,
          resource: { type: 'credential', id },
          payload: {
            credentialId: id,
            integration: row.integration,
            version,
            previousVersion: previous,
            dataKeyId: sealed.dataKeyId,
          },
        });
        const updated = await getCredential(tx, caller.tenantId, id);
        return credentialView(updated!);
      });
    },

    /**
     * Revokes locally (one transaction, with its event); then, for an oauth2 credential, revokes
     * the grant at the provider. A provider failure is logged and reported, never undoes the
     * local revoke. `providerRevocation` is null for other kinds.
     */
    async revoke(caller: Caller, id: string): Promise<{ providerRevocation: 'revoked' | 'failed' | null }> {
      await access.authorize(caller, 'credentials:write');
      const tokens = await withTenant(pool, caller.tenantId, async (tx) => {
        const row = await getCredential(tx, caller.tenantId, id, { forUpdate: true });
        if (!row) throw new AppError('NOT_FOUND', 'Credential not found');
        await access.authorize(caller, 'credentials:write', row.integration);
        if (row.status === 'revoked') throw new AppError('CONFLICT', 'This credential is already revoked');
        let held: OAuthTokenSet | null | undefined;
        if (row.kind === 'oauth2' && deps.oauth) {
          held = null;
          const found = await getSealedSecret(tx, caller.tenantId, id);
          try {
            if (found?.ciphertext) held = parseTokenSet(openSecret(caller.tenantId, id, found), row.integration);
            // A hand-entered oauth2 secret has no grant to revoke at a provider.
            if (held === null) held = undefined;
          } catch (e) {
            deps.logger.error({ credentialId: id, err: e }, 'oauth2 grant could not be opened for provider revocation');
          }
        }
        await endVersion(tx, id, row.currentVersion, 'revoked');
        await markRevoked(tx, id, caller.actor.id);
        await outbox.emit(tx, {
          type: 'vault.credential.revoked',
          tenantId: caller.tenantId,
          actor: caller.actor,
          resource: { type: 'credential', id },
          payload: { credentialId: id, integration: row.integration, version: row.currentVersion },
        });
        return held;
      });
      if (tokens === undefined || !deps.oauth) return { providerRevocation: null };
      if (tokens === null) return { providerRevocation: 'failed' };
      try {
        await deps.oauth.revokeAtProvider(tokens);
        return { providerRevocation: 'revoked' };
      } catch (e) {
        deps.logger.error(
          { credentialId: id, integration: tokens.integration, err: e },
          'oauth2 grant revoked locally but not at the provider',
        );
        return { providerRevocation: 'failed' };
      }
    },

    /**
     * The flow engine asks for a secret for one step, for the company and the principal its signed
     * call names. The principal must be a live principal of that company in the replicated copy;
     * its real role, scopes and grants decide. Checks, decrypts and records the use in one
     * transaction: a use that cannot be recorded returns no secret. A refusal is recorded too.
     */
    async resolve(
      caller: ServiceCaller,
      id: string,
      input: ResolveInput,
    ): Promise<{ credentialId: string; version: number; integration: Integration; secret: string }> {
      const tenantId = caller.tenantId;
      const context = {
        scope: input.scope,
        flowId: input.flowId,
        executionId: input.executionId,
        stepId: input.stepId,
        purpose: input.purpose,
        ...(caller.actingFor ? { actingFor: { type: caller.actingFor.type, id: caller.actingFor.id } } : {}),
      };
      type Outcome =
        | { ok: true; version: number; integration: Integration; secret: string }
        | { ok: false; reason: RefusalReason; cause?: unknown; detail?: string; unknownPrincipal?: boolean };
      // Before the read (see requireCompleteGrants): a decision is made only from a complete copy
      // of the principals and their grants.
      await access.requireCompleteGrants();
      // One transaction, four round trips for an allowed resolve: BEGIN with the tenant, one read
      // (principal, credential, sealed secret, wrapped key, grants), the event, COMMIT.
      const outcome = await withTenant(pool, tenantId, async (tx): Promise<Outcome> => {
        const principalId = caller.actingFor?.id ?? null;
        let read = await getForResolve(tx, tenantId, id, principalId);
        let found = read.found;
        if (found?.credential.kind === 'oauth2' && found.credential.status === 'active' && deps.oauth) {
          // Refresh may follow: hold the credential, and read it again under the lock (another
          // replica may just have stored a refreshed token set).
          await lockCredential(tx, tenantId, id);
          read = await getForResolve(tx, tenantId, id, principalId);
          found = read.found;
        }
        // The principal as the copy knows it, of the type the call named (ids are typed, so a
        // mismatch is a malformed call, refused like an unknown principal).
        const replicated: ReplicatedPrincipal | null =
          read.principal && caller.actingFor && read.principal.type === caller.actingFor.type ? read.principal : null;
        let result: Outcome;
        let decision: Decision | undefined;
        if (!replicated) {
          result = {
            ok: false,
            reason: 'not_permitted',
            unknownPrincipal: true,
            detail: caller.actingFor
              ? `${caller.actingFor.type} ${caller.actingFor.id} is not a live principal of this company (unknown, removed, revoked or expired)`
              : 'the call names no principal to act for',
          };
        } else {
          const principal = replicatedAuthzPrincipal(replicated);
          if (found && found.credential.status === 'active')
            decision = access.decideWithGrants(
              resolveGrants(found, grantHolders(principal)),
              principal,
              'integrations:use',
              found.credential.integration,
            );
          if (!found) result = { ok: false, reason: 'not_found' };
          else if (found.credential.status === 'revoked' || !found.ciphertext || !found.dataKeyId)
            result = { ok: false, reason: 'revoked' };
          else if (decision && !decision.allow)
            result = { ok: false, reason: 'not_permitted', detail: decisionDetail(decision) };
          else if (!scopeAllows(found.credential.integration, found.credential.scopes, input.scope))
            result = { ok: false, reason: 'scope_not_granted' };
          else {
            const c = found.credential;
            const dataKeyId = found.dataKeyId;
            try {
              const secret = openSecret(tenantId, id, found);
              if (c.kind === 'oauth2') {
                // Only the access token leaves the vault; the refresh token stays sealed here.
                const fresh = await freshAccessToken(tx, tenantId, c, secret);
                result = { ok: true, version: fresh.version, integration: c.integration, secret: fresh.accessToken };
              } else {
                result = { ok: true, version: c.currentVersion, integration: c.integration, secret };
              }
            } catch (e) {
              if (e instanceof KeyUnavailableError) {
                deps.logger.error(
                  { err: e.cause, credentialId: id, dataKeyId },
                  'credential data key could not be unwrapped',
                );
                result = { ok: false, reason: 'key_unavailable', cause: e };
              } else if (e instanceof RefreshFailedError) {
                result = { ok: false, reason: 'refresh_failed', cause: e.cause };
              } else if (e instanceof DecryptError) {
                // Moved, altered or foreign ciphertext: the header names another key, or the tag fails.
                deps.logger.error(
                  { credentialId: id, reason: e.reason, keyId: e.keyId },
                  'credential failed its integrity check',
                );
                result = { ok: false, reason: 'integrity_check_failed', cause: e };
              } else throw e;
            }
          }
        }
        if (result.ok) {
          await outbox.emit(tx, {
            type: 'vault.credential.used',
            tenantId,
            actor: caller.actor,
            resource: { type: 'credential', id },
            purpose: input.purpose,
            payload: { credentialId: id, version: result.version, integration: result.integration, ...context },
          });
        } else {
          await outbox.emit(tx, {
            type: 'vault.credential.use_refused',
            tenantId,
            actor: caller.actor,
            resource: { type: 'credential', id },
            purpose: input.purpose,
            payload: {
              credentialId: id,
              version: found?.credential.currentVersion ?? null,
              integration: found?.credential.integration ?? null,
              reason: result.reason,
              ...(result.detail ? { detail: result.detail.slice(0, 1000) } : {}),
              ...context,
            },
          });
        }
        return result;
      });
      if (!outcome.ok) {
        if (outcome.reason === 'refresh_failed' && deps.oauth) throw deps.oauth.toAppError(outcome.cause);
        throw refusalError(outcome.reason, outcome.cause, outcome.unknownPrincipal);
      }
      return { credentialId: id, version: outcome.version, integration: outcome.integration, secret: outcome.secret };
    },
  };
}

export type CredentialService = ReturnType<typeof createCredentialService>;
