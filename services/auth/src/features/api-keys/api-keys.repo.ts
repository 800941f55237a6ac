import type { Queryable } from '@flow8/db';
import type { Role } from '../../principal';
import type { ApiKeyScope } from './scopes';

export interface ApiKeyRow {
  id: string;
  tenantId: string;
  ownerId: string;
  name: string;
  role: Role;
  scopes: ApiKeyScope[];
  cidrs: string[];
  jti: string;
  kid: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  revocationPending: boolean;
  rotatedFrom: string | null;
}

type Raw = {
  id: string;
  tenant_id: string;
  owner_id: string;
  name: string;
  role: Role;
  scopes: ApiKeyScope[];
  cidrs: string[];
  jti: string;
  kid: string;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  revocation_pending: boolean;
  rotated_from: string | null;
};

const toRow = (r: Raw): ApiKeyRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  ownerId: r.owner_id,
  name: r.name,
  role: r.role,
  scopes: r.scopes,
  cidrs: r.cidrs,
  jti: r.jti,
  kid: r.kid,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  revocationPending: r.revocation_pending,
  rotatedFrom: r.rotated_from,
});

const COLUMNS =
  'id, tenant_id, owner_id, name, role, scopes, cidrs::text[] AS cidrs, jti::text AS jti, kid, created_at, expires_at, revoked_at, revocation_pending, rotated_from';

/** Postgres's own spelling of each network (it parses cidr strictly): what goes into the token. */
export async function canonicalCidrs(tx: Queryable, cidrs: readonly string[]): Promise<string[]> {
  const { rows } = await tx.query<{ c: string[] }>('SELECT $1::cidr[]::text[] AS c', [cidrs]);
  return rows[0]!.c;
}

/** The owner as this tenant sees it: present and not removed. */
export async function findActiveUserRole(tx: Queryable, tenantId: string, userId: string): Promise<Role | null> {
  const { rows } = await tx.query<{ role: Role }>(
    'SELECT role FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL',
    [tenantId, userId],
  );
  return rows[0]?.role ?? null;
}

export async function insertApiKey(
  tx: Queryable,
  k: Omit<ApiKeyRow, 'revokedAt' | 'revocationPending'>,
): Promise<ApiKeyRow> {
  const { rows } = await tx.query<Raw>(
    `INSERT INTO api_keys (id, tenant_id, owner_id, name, role, scopes, cidrs, jti, kid, created_at, expires_at, rotated_from)
     VALUES ($1, $2, $3, $4, $5, $6, $7::cidr[], $8, $9, $10, $11, $12) RETURNING ${COLUMNS}`,
    [
      k.id,
      k.tenantId,
      k.ownerId,
      k.name,
      k.role,
      k.scopes,
      k.cidrs,
      k.jti,
      k.kid,
      k.createdAt,
      k.expiresAt,
      k.rotatedFrom,
    ],
  );
  return toRow(rows[0]!);
}

/** Newest first would reorder pages as keys are added; ids are time-sortable, so oldest first. */
export async function listApiKeys(
  tx: Queryable,
  tenantId: string,
  opts: { ownerId?: string; afterId?: string; limit: number },
): Promise<ApiKeyRow[]> {
  const { rows } = await tx.query<Raw>(
    `SELECT ${COLUMNS} FROM api_keys
     WHERE tenant_id = $1 AND ($2::text IS NULL OR owner_id = $2) AND ($3::text IS NULL OR id > $3)
     ORDER BY id LIMIT $4`,
    [tenantId, opts.ownerId ?? null, opts.afterId ?? null, opts.limit],
  );
  return rows.map(toRow);
}

/** Locks the row: a concurrent rotate and revoke of one key serialise, so one of them sees it revoked. */
export async function findApiKeyForUpdate(tx: Queryable, tenantId: string, id: string): Promise<ApiKeyRow | null> {
  const { rows } = await tx.query<Raw>(`SELECT ${COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [
    tenantId,
    id,
  ]);
  return rows[0] ? toRow(rows[0]) : null;
}

/** Marks the key revoked and its Redis publication pending, in the caller's transaction. */
export async function markRevoked(tx: Queryable, tenantId: string, id: string): Promise<ApiKeyRow> {
  const { rows } = await tx.query<Raw>(
    `UPDATE api_keys SET revoked_at = now(), revocation_pending = true
     WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING ${COLUMNS}`,
    [tenantId, id],
  );
  return toRow(rows[0]!);
}

/** Clears the pending flag once Redis holds the revocation. */
export async function clearRevocationPending(tx: Queryable, tenantId: string, ids: readonly string[]): Promise<void> {
  await tx.query('UPDATE api_keys SET revocation_pending = false WHERE tenant_id = $1 AND id = ANY($2::text[])', [
    tenantId,
    ids,
  ]);
}

export interface Revocation {
  tenantId: string;
  id: string;
  jti: string;
  expiresAt: Date;
}

/** Every tenant's revoked keys that Redis must hold (all unexpired, or only those still pending). */
export async function revocationsToPublish(
  q: Queryable,
  opts: { pendingOnly: boolean; limit: number },
): Promise<Revocation[]> {
  const { rows } = await q.query<{ tenant_id: string; id: string; jti: string; expires_at: Date }>(
    'SELECT tenant_id, id, jti::text AS jti, expires_at FROM auth_api_key_revocations($1, $2)',
    [opts.pendingOnly, opts.limit],
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, id: r.id, jti: r.jti, expiresAt: r.expires_at }));
}
