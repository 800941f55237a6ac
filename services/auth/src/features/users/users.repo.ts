import type { Queryable } from '@flow8/db';
import type { Role } from '../../principal';

export interface UserRow {
  id: string;
  tenantId: string;
  email: string;
  role: Role;
  createdAt: Date;
  updatedAt: Date;
}

type Raw = { id: string; tenant_id: string; email: string; role: Role; created_at: Date; updated_at: Date };
const toRow = (r: Raw): UserRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  email: r.email,
  role: r.role,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

// password_hash is written here and never selected by these queries: nothing above the repo
// can leak what it never receives. Only findCredentials (login, password change) reads it.
const COLUMNS = 'id, tenant_id, email, role, created_at, updated_at';
/** Removed users (soft-deleted) are invisible to every query but the credentials one. */
const ACTIVE = 'deleted_at IS NULL';

export async function insertUser(
  tx: Queryable,
  u: { id: string; tenantId: string; email: string; role: Role; passwordHash: string },
): Promise<UserRow> {
  const { rows } = await tx.query<Raw>(
    `INSERT INTO users (id, tenant_id, email, role, password_hash) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    [u.id, u.tenantId, u.email, u.role, u.passwordHash],
  );
  return toRow(rows[0]!);
}

/** Oldest first (ids are time-sortable), keyset-paginated after `afterId`. */
export async function listUsers(
  tx: Queryable,
  tenantId: string,
  opts: { afterId?: string; limit: number },
): Promise<UserRow[]> {
  const { rows } = await tx.query<Raw>(
    `SELECT ${COLUMNS} FROM users WHERE tenant_id = $1 AND ${ACTIVE} AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3`,
    [tenantId, opts.afterId ?? null, opts.limit],
  );
  return rows.map(toRow);
}

export async function findUser(
  tx: Queryable,
  tenantId: string,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<UserRow | null> {
  const { rows } = await tx.query<Raw>(
    `SELECT ${COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2 AND ${ACTIVE}${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [tenantId, id],
  );
  return rows[0] ? toRow(rows[0]) : null;
}

export interface Credentials {
  id: string;
  role: Role;
  email: string;
  passwordHash: string;
  failedLogins: number;
  failedWindowStart: Date | null;
  lockedUntil: Date | null;
}

type RawCredentials = {
  id: string;
  role: Role;
  email: string;
  password_hash: string;
  failed_logins: number;
  failed_window_start: Date | null;
  locked_until: Date | null;
};

/** The password hash and lockout state of one active user, row-locked for the rest of the transaction. */
export async function findCredentials(
  tx: Queryable,
  tenantId: string,
  by: { email: string } | { id: string },
): Promise<Credentials | null> {
  const [column, value] = 'email' in by ? ['email', by.email] : ['id', by.id];
  const { rows } = await tx.query<RawCredentials>(
    `SELECT id, role, email, password_hash, failed_logins, failed_window_start, locked_until
       FROM users WHERE tenant_id = $1 AND ${column} = $2 AND ${ACTIVE} FOR UPDATE`,
    [tenantId, value],
  );
  const r = rows[0];
  return r
    ? {
        id: r.id,
        role: r.role,
        email: r.email,
        passwordHash: r.password_hash,
        failedLogins: r.failed_logins,
        failedWindowStart: r.failed_window_start,
        lockedUntil: r.locked_until,
      }
    : null;
}

export async function setLoginState(
  tx: Queryable,
  id: string,
  s: { failedLogins: number; failedWindowStart: Date | null; lockedUntil: Date | null },
): Promise<void> {
  await tx.query('UPDATE users SET failed_logins = $2, failed_window_start = $3, locked_until = $4 WHERE id = $1', [
    id,
    s.failedLogins,
    s.failedWindowStart,
    s.lockedUntil,
  ]);
}

export async function setPasswordHash(tx: Queryable, id: string, hash: string, now: Date): Promise<void> {
  await tx.query('UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1', [id, hash, now]);
}

export async function updateUser(
  tx: Queryable,
  id: string,
  change: { email: string; role: Role },
  now: Date,
): Promise<UserRow> {
  const { rows } = await tx.query<Raw>(
    `UPDATE users SET email = $2, role = $3, updated_at = $4 WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, change.email, change.role, now],
  );
  return toRow(rows[0]!);
}

export async function softDeleteUser(tx: Queryable, id: string, now: Date): Promise<void> {
  await tx.query('UPDATE users SET deleted_at = $2, updated_at = $2 WHERE id = $1', [id, now]);
}

/**
 * Locks every active Admin row of the company and returns their ids. Two Admins demoting each
 * other at once then run one after the other, so the company can never end up without one.
 */
export async function lockAdmins(tx: Queryable, tenantId: string): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>(
    `SELECT id FROM users WHERE tenant_id = $1 AND role = 'admin' AND ${ACTIVE} ORDER BY id FOR UPDATE`,
    [tenantId],
  );
  return rows.map((r) => r.id);
}
