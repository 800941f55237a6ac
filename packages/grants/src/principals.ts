// The principals half of the identity copy: users with their role, API keys with their owner,
// scopes and expiry (table principal_replica, migration 0002). Applied by the same consumer, in
// the same transactions, as the grants (replica.ts), so a principal and its grants are always
// read from one consistent point of the identity topic.
//
// Exactly what is applied, in topic order (the consumer applies each offset once, see replica.ts):
//   identity.user.created        inserts the user with its role (never revives a removed one)
//   identity.user.role_changed   sets the role (a removed user stays removed)
//   identity.user.removed        marks the user removed (a tombstone; ids are never reused)
//   identity.api_key.created     inserts the key: owner, scopes, expiry
//   identity.api_key.rotated     inserts the new key and marks the previous one removed
//   identity.api_key.revoked     marks the key removed
import type { Role } from '@flow8/authz';
import type {
  ApiKeyCreatedPayload,
  ApiKeyRevokedPayload,
  ApiKeyRotatedPayload,
  UserCreatedPayload,
  UserRemovedPayload,
  UserRoleChangedPayload,
} from '@flow8/contracts';
import type { Queryable } from '@flow8/db';

export type PrincipalEvent =
  | { type: 'identity.user.created'; payload: UserCreatedPayload }
  | { type: 'identity.user.role_changed'; payload: UserRoleChangedPayload }
  | { type: 'identity.user.removed'; payload: UserRemovedPayload }
  | { type: 'identity.api_key.created'; payload: ApiKeyCreatedPayload }
  | { type: 'identity.api_key.rotated'; payload: ApiKeyRotatedPayload }
  | { type: 'identity.api_key.revoked'; payload: ApiKeyRevokedPayload };

const PRINCIPAL_EVENT_TYPES: ReadonlySet<string> = new Set([
  'identity.user.created',
  'identity.user.role_changed',
  'identity.user.removed',
  'identity.api_key.created',
  'identity.api_key.rotated',
  'identity.api_key.revoked',
]);

export function isPrincipalEvent(ev: { type: string }): ev is PrincipalEvent {
  return PRINCIPAL_EVENT_TYPES.has(ev.type);
}

/**
 * A principal of a company as the copy knows it now: a live user with its role, or a live,
 * unexpired API key whose owner is a live user (the key acts with the owner's role, bounded by its
 * scopes; its owner's grants bound it). Anything else — never seen, removed, revoked, expired, a
 * key whose owner was removed — is not a principal: the caller refuses.
 */
export type ReplicatedPrincipal =
  | { type: 'user'; id: string; role: Role }
  | { type: 'api_key'; id: string; role: Role; scopes: string[]; ownerId: string };

type Ev = PrincipalEvent & { tenantId: string; occurredAt: string };

async function upsertUser(tx: Queryable, ev: Ev, userId: string, role: Role, mode: 'insert' | 'role'): Promise<void> {
  await tx.query(
    `INSERT INTO principal_replica AS p (tenant_id, principal_id, principal_type, role, changed_at)
     VALUES ($1, $2, 'user', $3, $4)
     ON CONFLICT (tenant_id, principal_id) DO UPDATE SET role = EXCLUDED.role, changed_at = EXCLUDED.changed_at,
       replicated_at = now()
       WHERE $5 AND NOT p.removed`,
    [ev.tenantId, userId, role, ev.occurredAt, mode === 'role'],
  );
}

async function insertKey(
  tx: Queryable,
  ev: Ev,
  p: { keyId: string; ownerId: string; scopes: string[]; expiresAt: string },
): Promise<void> {
  await tx.query(
    `INSERT INTO principal_replica (tenant_id, principal_id, principal_type, owner_id, scopes, expires_at, changed_at)
     VALUES ($1, $2, 'api_key', $3, $4, $5, $6)
     ON CONFLICT (tenant_id, principal_id) DO NOTHING`,
    [ev.tenantId, p.keyId, p.ownerId, p.scopes, p.expiresAt, ev.occurredAt],
  );
}

/** Marks a principal removed, inserting the tombstone when it was never seen (no later event revives it). */
async function tombstone(
  tx: Queryable,
  ev: Ev,
  row: { id: string; type: 'user'; role: Role } | { id: string; type: 'api_key'; ownerId: string; scopes: string[] },
): Promise<void> {
  await tx.query(
    `INSERT INTO principal_replica AS p (tenant_id, principal_id, principal_type, role, owner_id, scopes, removed, changed_at)
     VALUES ($1, $2, $3, $4, $5, $6, true, $7)
     ON CONFLICT (tenant_id, principal_id) DO UPDATE SET removed = true, changed_at = EXCLUDED.changed_at,
       replicated_at = now()`,
    [
      ev.tenantId,
      row.id,
      row.type,
      row.type === 'user' ? row.role : null,
      row.type === 'api_key' ? row.ownerId : null,
      row.type === 'api_key' ? row.scopes : [],
      ev.occurredAt,
    ],
  );
}

/** Applies one principal event inside the caller's transaction (tenant already set for RLS). */
export async function applyPrincipalEvent(tx: Queryable, ev: Ev): Promise<void> {
  switch (ev.type) {
    case 'identity.user.created':
      return upsertUser(tx, ev, ev.payload.userId, ev.payload.role, 'insert');
    case 'identity.user.role_changed':
      return upsertUser(tx, ev, ev.payload.userId, ev.payload.newRole, 'role');
    case 'identity.user.removed':
      return tombstone(tx, ev, { id: ev.payload.userId, type: 'user', role: ev.payload.role });
    case 'identity.api_key.created':
      return insertKey(tx, ev, ev.payload);
    case 'identity.api_key.rotated':
      await tombstone(tx, ev, {
        id: ev.payload.previousKeyId,
        type: 'api_key',
        ownerId: ev.payload.ownerId,
        scopes: ev.payload.scopes,
      });
      return insertKey(tx, ev, ev.payload);
    case 'identity.api_key.revoked':
      return tombstone(tx, ev, {
        id: ev.payload.keyId,
        type: 'api_key',
        ownerId: ev.payload.ownerId,
        scopes: ev.payload.scopes,
      });
    default: {
      const unreachable: never = ev;
      throw new Error(`not a principal event: ${String((unreachable as { type: unknown }).type)}`);
    }
  }
}

/**
 * A SQL expression whose value is the live principal `idParam` (a text bind parameter, e.g. `$4`)
 * of company `tenantExpr`, as json (turn it into a ReplicatedPrincipal with principalFromJson), or
 * SQL NULL when it is not a live principal of that company — for a caller that reads it in the
 * same statement as its other rows. Both arguments are SQL written by the caller, never data.
 */
export function livePrincipalJsonSql(tenantExpr: string, idParam: string): string {
  return `(SELECT json_build_object('type', k.principal_type, 'id', k.principal_id,
            'role', CASE WHEN k.principal_type = 'user' THEN k.role ELSE o.role END,
            'scopes', k.scopes, 'ownerId', k.owner_id)
     FROM principal_replica k
     LEFT JOIN principal_replica o
       ON k.principal_type = 'api_key' AND o.tenant_id = k.tenant_id AND o.principal_id = k.owner_id
          AND o.principal_type = 'user' AND NOT o.removed
    WHERE k.tenant_id = ${tenantExpr} AND k.principal_id = ${idParam}::text AND NOT k.removed
      AND (k.principal_type = 'user' OR (o.principal_id IS NOT NULL AND k.expires_at > now())))`;
}

/**
 * A SQL expression whose value is the ids whose grants apply to principal `idParam` (text[]): the
 * principal itself and, for an API key, its owner as the copy knows it. For liveGrantsJsonSql.
 */
export function grantHolderIdsSql(tenantExpr: string, idParam: string): string {
  return `(ARRAY[${idParam}::text] || ARRAY(SELECT k.owner_id FROM principal_replica k
      WHERE k.tenant_id = ${tenantExpr} AND k.principal_id = ${idParam}::text AND k.owner_id IS NOT NULL))`;
}

interface PrincipalJson {
  type: 'user' | 'api_key';
  id: string;
  role: Role | null;
  scopes: string[] | null;
  ownerId: string | null;
}

/** The principal a livePrincipalJsonSql value describes, or null. */
export function principalFromJson(json: unknown): ReplicatedPrincipal | null {
  if (json === null || json === undefined) return null;
  const p = json as PrincipalJson;
  if (p.role === null) return null;
  if (p.type === 'user') return { type: 'user', id: p.id, role: p.role };
  if (p.ownerId === null) return null;
  return { type: 'api_key', id: p.id, role: p.role, scopes: p.scopes ?? [], ownerId: p.ownerId };
}

/** The live principal `id` of the company (RLS-scoped by the caller's transaction), or null. */
export async function livePrincipal(q: Queryable, tenantId: string, id: string): Promise<ReplicatedPrincipal | null> {
  const { rows } = await q.query<{ principal: unknown }>(`SELECT ${livePrincipalJsonSql('$1', '$2')} AS principal`, [
    tenantId,
    id,
  ]);
  return principalFromJson(rows[0]?.principal);
}
