import type { Queryable } from '@flow8/db';

export interface PartitionRow {
  id: string;
  name: string;
  description: string | null;
  createdAt: Date;
}

type PartitionRaw = { id: string; name: string; description: string | null; created_at: Date };
const partitionRow = (r: PartitionRaw): PartitionRow => ({
  id: r.id,
  name: r.name,
  description: r.description,
  createdAt: r.created_at,
});

export async function insertPartition(
  tx: Queryable,
  p: { id: string; tenantId: string; name: string; description: string | null; createdBy: string },
): Promise<PartitionRow> {
  const { rows } = await tx.query<PartitionRaw>(
    `INSERT INTO partitions (id, tenant_id, name, description, created_by) VALUES ($1, $2, $3, $4, $5)
      RETURNING id, name, description, created_at`,
    [p.id, p.tenantId, p.name, p.description, p.createdBy],
  );
  return partitionRow(rows[0]!);
}

export async function listPartitions(
  tx: Queryable,
  tenantId: string,
  opts: { afterId?: string; limit: number },
): Promise<PartitionRow[]> {
  const { rows } = await tx.query<PartitionRaw>(
    `SELECT id, name, description, created_at FROM partitions WHERE tenant_id = $1 AND ($2::text IS NULL OR id > $2)
      ORDER BY id LIMIT $3`,
    [tenantId, opts.afterId ?? null, opts.limit],
  );
  return rows.map(partitionRow);
}

export async function partitionExists(tx: Queryable, tenantId: string, id: string): Promise<boolean> {
  const r = await tx.query('SELECT 1 FROM partitions WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return (r.rowCount ?? 0) > 0;
}

export async function activeUserExists(tx: Queryable, tenantId: string, id: string): Promise<boolean> {
  const r = await tx.query('SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL', [
    tenantId,
    id,
  ]);
  return (r.rowCount ?? 0) > 0;
}

/** An API key that is still valid (api_keys is written by the api-keys feature, 0003). */
export async function liveApiKeyExists(tx: Queryable, tenantId: string, id: string, now: Date): Promise<boolean> {
  const r = await tx.query(
    'SELECT 1 FROM api_keys WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL AND expires_at > $3',
    [tenantId, id, now],
  );
  return (r.rowCount ?? 0) > 0;
}

export interface GrantRow {
  id: string;
  principal: { type: 'user' | 'api_key'; id: string };
  resource: { type: 'flow' | 'integration' | 'partition'; id: string };
  actions: string[];
  createdAt: Date;
  createdBy: string;
}

type Raw = {
  id: string;
  principal_type: 'user' | 'api_key';
  principal_id: string;
  resource_type: 'flow' | 'integration' | 'partition';
  resource_id: string;
  actions: string[];
  created_at: Date;
  created_by: string;
};
const COLUMNS = 'id, principal_type, principal_id, resource_type, resource_id, actions, created_at, created_by';
const toRow = (r: Raw): GrantRow => ({
  id: r.id,
  principal: { type: r.principal_type, id: r.principal_id },
  resource: { type: r.resource_type, id: r.resource_id },
  actions: r.actions,
  createdAt: r.created_at,
  createdBy: r.created_by,
});

export async function insertGrant(
  tx: Queryable,
  g: Omit<GrantRow, 'createdAt'> & { tenantId: string },
): Promise<GrantRow> {
  const { rows } = await tx.query<Raw>(
    `INSERT INTO grants (id, tenant_id, principal_type, principal_id, resource_type, resource_id, actions, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
    [g.id, g.tenantId, g.principal.type, g.principal.id, g.resource.type, g.resource.id, g.actions, g.createdBy],
  );
  return toRow(rows[0]!);
}

export async function listGrants(
  tx: Queryable,
  tenantId: string,
  opts: { afterId?: string; limit: number; principalId?: string; resourceId?: string },
): Promise<GrantRow[]> {
  const { rows } = await tx.query<Raw>(
    `SELECT ${COLUMNS} FROM grants
      WHERE tenant_id = $1 AND ($2::text IS NULL OR id > $2)
        AND ($4::text IS NULL OR principal_id = $4) AND ($5::text IS NULL OR resource_id = $5)
      ORDER BY id LIMIT $3`,
    [tenantId, opts.afterId ?? null, opts.limit, opts.principalId ?? null, opts.resourceId ?? null],
  );
  return rows.map(toRow);
}

export async function deleteGrant(tx: Queryable, tenantId: string, id: string): Promise<GrantRow | null> {
  const { rows } = await tx.query<Raw>(`DELETE FROM grants WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`, [
    tenantId,
    id,
  ]);
  return rows[0] ? toRow(rows[0]) : null;
}
