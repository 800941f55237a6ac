// API keys: issue, list, rotate, revoke. Every change commits with its event in one transaction
// scoped to the caller's tenant; revocations then reach Redis before the request answers.
//
// Who may do what (docs/api.md "Admin (own keys: any user)"): an Admin manages every key of
// the company; any other user only the keys they own. Someone else's key answers 404, exactly as a
// key that does not exist: a non-admin cannot list other users' keys, so a 403 would only confirm
// that a guessed id exists. Only a signed-in user manages keys: an API key cannot mint or rotate
// keys (a leaked token must not be able to outlive its revocation), and the operator acts in no
// company.
import { randomUUID } from 'node:crypto';
import { identity } from '@flow8/api';
import type { Outbox } from '@flow8/bus';
import { newId, type Actor } from '@flow8/contracts';
import { withTenant, type Pool, type Queryable } from '@flow8/db';
import { AppError, decodeCursor, encodeCursor, parseCidr, type InternalPrincipal } from '@flow8/http';
import type { Role } from '../../principal';
import {
  canonicalCidrs,
  findActiveUserRole,
  findApiKeyForUpdate,
  insertApiKey,
  listApiKeys,
  markRevoked,
  type ApiKeyRow,
} from './api-keys.repo';
import type { RevocationPublisher } from './revocations';
import { managesAllKeys, scopesBeyondRole, type ApiKeyScope } from './scopes';
import type { SigningKeyring } from './signing';
import { API_KEY_ISSUER, type ApiKeyClaims } from './verify';

export const DEFAULT_EXPIRES_IN_DAYS = identity.API_KEY_DEFAULT_EXPIRES_IN_DAYS;
export const MAX_EXPIRES_IN_DAYS = identity.API_KEY_MAX_EXPIRES_IN_DAYS;
const DAY_S = 86_400;

export interface ApiKeyView {
  id: string;
  name: string;
  ownerId: string;
  role: Role;
  scopes: ApiKeyScope[];
  cidrs: string[];
  kid: string;
  status: 'active' | 'revoked' | 'expired';
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  rotatedFrom: string | null;
}

export interface IssuedApiKey extends ApiKeyView {
  /** The token. Shown once, here; auth keeps only its jti. */
  token: string;
}

export interface CreateApiKeyInput {
  name: string;
  scopes: ApiKeyScope[];
  cidrs?: string[];
  expiresInDays?: number;
}

interface KeyCaller {
  tenantId: string;
  userId: string;
  role: Role | null;
  actor: Actor;
}

function keyCallerOf(p: InternalPrincipal): KeyCaller {
  if (p.type !== 'user' || p.tenantId === null) {
    throw new AppError('FORBIDDEN', 'API keys are managed by signed-in users only', {
      details: { reason: `a ${p.type} principal may not manage API keys` },
    });
  }
  return { tenantId: p.tenantId, userId: p.id, role: p.role, actor: { type: 'user', id: p.id, ip: p.ip } };
}

export function apiKeyView(k: ApiKeyRow, nowMs: number): ApiKeyView {
  return {
    id: k.id,
    name: k.name,
    ownerId: k.ownerId,
    role: k.role,
    scopes: k.scopes,
    cidrs: k.cidrs,
    kid: k.kid,
    status: k.revokedAt ? 'revoked' : k.expiresAt.getTime() <= nowMs ? 'expired' : 'active',
    createdAt: k.createdAt.toISOString(),
    expiresAt: k.expiresAt.toISOString(),
    revokedAt: k.revokedAt ? k.revokedAt.toISOString() : null,
    rotatedFrom: k.rotatedFrom,
  };
}

/** Validates what a schema cannot: each CIDR strictly, with its position in the message. */
export function checkCidrs(cidrs: readonly string[]): void {
  const problems = cidrs.flatMap((c, i) => {
    const r = parseCidr(c);
    return r.ok ? [] : [{ field: `cidrs/${i}`, message: r.reason }];
  });
  if (problems.length > 0) {
    throw new AppError('BAD_REQUEST', problems.map((p) => `${p.field}: ${p.message}`).join('; '), {
      details: problems,
    });
  }
}

const notFound = () => new AppError('NOT_FOUND', 'API key not found');

export function createApiKeyService(deps: {
  pool: Pool;
  outbox: Outbox;
  keyring: Pick<SigningKeyring, 'activeKid' | 'sign'>;
  revocations: Pick<RevocationPublisher, 'publish'>;
  now?: () => number;
}) {
  const { pool, outbox, keyring, revocations } = deps;
  const now = deps.now ?? Date.now;

  /** Signs and stores one key for `ownerId` with the owner's current role, in the caller's transaction. */
  async function issue(
    tx: Queryable,
    tenantId: string,
    k: { ownerId: string; ownerRole: Role; name: string; scopes: ApiKeyScope[]; cidrs: string[]; days: number },
    rotatedFrom: string | null,
  ): Promise<IssuedApiKey> {
    const beyond = scopesBeyondRole(k.ownerRole, k.scopes);
    if (beyond.length > 0) {
      throw new AppError('BAD_REQUEST', `role ${k.ownerRole} does not hold these scopes: ${beyond.join(', ')}`, {
        details: beyond.map((s) => ({ field: 'scopes', message: `role ${k.ownerRole} does not hold ${s}` })),
      });
    }
    const cidrs = await canonicalCidrs(tx, k.cidrs);
    const iat = Math.floor(now() / 1000);
    const claims: ApiKeyClaims = {
      iss: API_KEY_ISSUER,
      sub: newId('key'),
      tid: tenantId,
      uid: k.ownerId,
      role: k.ownerRole,
      scopes: k.scopes,
      cidrs,
      iat,
      nbf: iat,
      exp: iat + k.days * DAY_S,
      jti: randomUUID(),
    };
    const token = keyring.sign(claims);
    const row = await insertApiKey(tx, {
      id: claims.sub,
      tenantId,
      ownerId: k.ownerId,
      name: k.name,
      role: k.ownerRole,
      scopes: k.scopes,
      cidrs,
      jti: claims.jti,
      kid: keyring.activeKid,
      createdAt: new Date(iat * 1000),
      expiresAt: new Date(claims.exp * 1000),
      rotatedFrom,
    });
    return { ...apiKeyView(row, now()), token };
  }

  function eventPayload(k: ApiKeyView) {
    const [first, ...rest] = k.scopes;
    if (!first) throw new Error('an API key has at least one scope');
    return {
      keyId: k.id,
      ownerId: k.ownerId,
      scopes: [first, ...rest] as [ApiKeyScope, ...ApiKeyScope[]],
      cidrsCount: k.cidrs.length,
      expiresAt: k.expiresAt,
    };
  }

  /** Finds a key the caller may manage; anything else (other tenant, other owner) is 404. */
  async function manageable(tx: Queryable, c: KeyCaller, id: string): Promise<ApiKeyRow> {
    const row = await findApiKeyForUpdate(tx, c.tenantId, id);
    if (!row || (!managesAllKeys(c.role) && row.ownerId !== c.userId)) throw notFound();
    return row;
  }

  async function publishOrUnavailable(row: ApiKeyRow): Promise<void> {
    try {
      await revocations.publish({ tenantId: row.tenantId, id: row.id, jti: row.jti, expiresAt: row.expiresAt });
    } catch (e) {
      // Committed and pending: the publisher retries until Redis takes it. The caller must know
      // the revocation is not yet effective everywhere.
      throw new AppError('UNAVAILABLE', 'Revocation recorded but not yet effective; retrying', { cause: e });
    }
  }

  return {
    async list(
      principal: InternalPrincipal,
      opts: { limit: number; cursor?: string },
    ): Promise<{ items: ApiKeyView[]; nextCursor: string | null }> {
      const c = keyCallerOf(principal);
      const afterId = opts.cursor ? decodeCursor(opts.cursor, 'key') : undefined;
      const rows = await withTenant(pool, c.tenantId, (tx) =>
        listApiKeys(tx, c.tenantId, {
          ownerId: managesAllKeys(c.role) ? undefined : c.userId,
          afterId,
          limit: opts.limit + 1,
        }),
      );
      const page = rows.slice(0, opts.limit);
      const last = page[page.length - 1];
      const t = now();
      return {
        items: page.map((r) => apiKeyView(r, t)),
        nextCursor: rows.length > opts.limit && last ? encodeCursor(last.id) : null,
      };
    },

    async create(principal: InternalPrincipal, input: CreateApiKeyInput): Promise<IssuedApiKey> {
      const c = keyCallerOf(principal);
      const cidrs = input.cidrs ?? [];
      checkCidrs(cidrs);
      return withTenant(pool, c.tenantId, async (tx) => {
        // The owner's role now, from the record, not from the request: it is what the key carries.
        const ownerRole = await findActiveUserRole(tx, c.tenantId, c.userId);
        if (!ownerRole) throw new AppError('FORBIDDEN', 'Your account cannot hold API keys');
        const issued = await issue(
          tx,
          c.tenantId,
          {
            ownerId: c.userId,
            ownerRole,
            name: input.name.trim(),
            scopes: [...new Set(input.scopes)],
            cidrs,
            days: input.expiresInDays ?? DEFAULT_EXPIRES_IN_DAYS,
          },
          null,
        );
        await outbox.emit(tx, {
          type: 'identity.api_key.created',
          tenantId: c.tenantId,
          actor: c.actor,
          resource: { type: 'api_key', id: issued.id },
          payload: eventPayload(issued),
        });
        return issued;
      });
    },

    /**
     * A new token (new key id and jti, same name, scopes and networks) replaces the old one, whose
     * jti is revoked in the same transaction and in Redis before the answer. The new key carries
     * the owner's current role; if that no longer holds the scopes, rotation is refused (409).
     */
    async rotate(principal: InternalPrincipal, id: string, input: { expiresInDays?: number }): Promise<IssuedApiKey> {
      const c = keyCallerOf(principal);
      const { issued, revoked } = await withTenant(pool, c.tenantId, async (tx) => {
        const old = await manageable(tx, c, id);
        if (old.revokedAt) throw new AppError('CONFLICT', 'This API key is revoked; create a new one');
        if (old.expiresAt.getTime() <= now())
          throw new AppError('CONFLICT', 'This API key has expired; create a new one');
        const ownerRole = await findActiveUserRole(tx, c.tenantId, old.ownerId);
        if (!ownerRole) throw new AppError('CONFLICT', "This API key's owner no longer exists; revoke it");
        if (scopesBeyondRole(ownerRole, old.scopes).length > 0) {
          throw new AppError('CONFLICT', "The owner's role no longer holds this key's scopes; create a new key");
        }
        const revokedRow = await markRevoked(tx, c.tenantId, old.id);
        const originalDays = Math.round((old.expiresAt.getTime() - old.createdAt.getTime()) / (DAY_S * 1000));
        const days = input.expiresInDays ?? Math.min(MAX_EXPIRES_IN_DAYS, Math.max(1, originalDays));
        const next = await issue(
          tx,
          c.tenantId,
          { ownerId: old.ownerId, ownerRole, name: old.name, scopes: old.scopes, cidrs: old.cidrs, days },
          old.id,
        );
        await outbox.emit(tx, {
          type: 'identity.api_key.rotated',
          tenantId: c.tenantId,
          actor: c.actor,
          resource: { type: 'api_key', id: next.id },
          payload: { ...eventPayload(next), previousKeyId: old.id },
        });
        return { issued: next, revoked: revokedRow };
      });
      await publishOrUnavailable(revoked);
      return issued;
    },

    /** Idempotent: revoking a revoked key changes nothing and emits nothing, but re-publishes if still pending. */
    async revoke(principal: InternalPrincipal, id: string): Promise<void> {
      const c = keyCallerOf(principal);
      const row = await withTenant(pool, c.tenantId, async (tx) => {
        const k = await manageable(tx, c, id);
        if (k.revokedAt) return k;
        const revoked = await markRevoked(tx, c.tenantId, k.id);
        await outbox.emit(tx, {
          type: 'identity.api_key.revoked',
          tenantId: c.tenantId,
          actor: c.actor,
          resource: { type: 'api_key', id: k.id },
          payload: eventPayload(apiKeyView(revoked, now())),
        });
        return revoked;
      });
      if (row.revocationPending) await publishOrUnavailable(row);
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
