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
// can leak what it never receives.
const COLUMNS = 'id, tenant_id, email, role, created_at, updated_at';

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
    `SELECT ${COLUMNS} FROM users WHERE tenant_id = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3`,
    [tenantId, opts.afterId ?? null, opts.limit],
  );
  return rows.map(toRow);
}

export async function findUser(tx: Queryable, tenantId: string, id: string): Promise<UserRow | null> {
  const { rows } = await tx.query<Raw>(`SELECT ${COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
  return rows[0] ? toRow(rows[0]) : null;
}
