import type { Queryable } from '@flow8/db';
import type { Role } from '../../principal';

export type EndReason = 'logout' | 'password_changed' | 'user_removed';

/** The company with this slug, through the one narrow cross-tenant lookup (SECURITY DEFINER). */
export async function tenantBySlug(db: Queryable, slug: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string | null }>('SELECT auth_tenant_by_slug($1) AS id', [slug]);
  return rows[0]?.id ?? null;
}

/** The company owning a session token hash (SECURITY DEFINER); everything else is read under RLS. */
export async function sessionTenant(db: Queryable, hash: Buffer): Promise<string | null> {
  const { rows } = await db.query<{ id: string | null }>('SELECT auth_session_tenant($1) AS id', [hash]);
  return rows[0]?.id ?? null;
}

export async function insertSession(
  tx: Queryable,
  s: {
    id: string;
    tenantId: string;
    userId: string;
    tokenHash: Buffer;
    csrfHash: Buffer;
    clientIp: string | null;
    createdAt: Date;
    expiresAt: Date;
  },
): Promise<void> {
  await tx.query(
    `INSERT INTO sessions (id, tenant_id, user_id, token_hash, csrf_hash, client_ip, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [s.id, s.tenantId, s.userId, s.tokenHash, s.csrfHash, s.clientIp, s.createdAt, s.expiresAt],
  );
}

export interface ActiveSession {
  id: string;
  userId: string;
  role: Role;
  csrfHash: Buffer;
  expiresAt: Date;
}

/** A session that is neither revoked nor expired at `now`, of a user who is still active. */
export async function findActiveSession(
  tx: Queryable,
  tenantId: string,
  hash: Buffer,
  now: Date,
): Promise<ActiveSession | null> {
  const { rows } = await tx.query<{ id: string; user_id: string; role: Role; csrf_hash: Buffer; expires_at: Date }>(
    `SELECT s.id, s.user_id, u.role, s.csrf_hash, s.expires_at
       FROM sessions s JOIN users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id
      WHERE s.tenant_id = $1 AND s.token_hash = $2 AND s.revoked_at IS NULL AND s.expires_at > $3
        AND u.deleted_at IS NULL`,
    [tenantId, hash, now],
  );
  const r = rows[0];
  return r ? { id: r.id, userId: r.user_id, role: r.role, csrfHash: r.csrf_hash, expiresAt: r.expires_at } : null;
}

export async function revokeSession(
  tx: Queryable,
  tenantId: string,
  q: { id: string; userId: string },
  reason: EndReason,
  now: Date,
): Promise<boolean> {
  const r = await tx.query(
    `UPDATE sessions SET revoked_at = $4, revoked_reason = $5
      WHERE tenant_id = $1 AND id = $2 AND user_id = $3 AND revoked_at IS NULL`,
    [tenantId, q.id, q.userId, now, reason],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Ends every session of a user that is still valid at `now`; returns how many. */
export async function revokeUserSessions(
  tx: Queryable,
  tenantId: string,
  userId: string,
  reason: EndReason,
  now: Date,
): Promise<number> {
  const r = await tx.query(
    `UPDATE sessions SET revoked_at = $3, revoked_reason = $4
      WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3`,
    [tenantId, userId, now, reason],
  );
  return r.rowCount ?? 0;
}
