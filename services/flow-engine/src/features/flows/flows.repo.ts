// SQL for flows and their immutable versions. Every function runs inside the caller's tenant
// transaction (withTenant), so row-level security scopes each statement to one company.
import type { Queryable } from '@flow8/db';
import type { Json } from './definition/types';

export type FlowStatus = 'draft' | 'published' | 'archived';

export interface FlowRow {
  id: string;
  tenant_id: string;
  name: string;
  partition_id: string | null;
  status: FlowStatus;
  latest_version: number;
  published_version: number | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  archived_at: Date | null;
  row_version: number;
}

export interface FlowVersionRow {
  flow_id: string;
  version: number;
  definition: Json;
  definition_sha256: string;
  saved_by: string;
  saved_at: Date;
}

const FLOW_COLUMNS = `id, tenant_id, name, partition_id, status, latest_version, published_version, created_by,
  created_at, updated_at, archived_at, row_version`;

export async function insertFlow(
  tx: Queryable,
  f: Omit<FlowRow, 'row_version' | 'archived_at' | 'published_version' | 'status' | 'latest_version'>,
): Promise<void> {
  await tx.query(
    `INSERT INTO flows (id, tenant_id, name, partition_id, status, latest_version, created_by, created_at, updated_at)
     VALUES ($1, $2, $3, $4, 'draft', 1, $5, $6, $7)`,
    [f.id, f.tenant_id, f.name, f.partition_id, f.created_by, f.created_at, f.updated_at],
  );
}

export async function insertVersion(
  tx: Queryable,
  tenantId: string,
  v: FlowVersionRow & { definition_text: string },
): Promise<void> {
  await tx.query(
    `INSERT INTO flow_versions (tenant_id, flow_id, version, definition, definition_text, definition_sha256, saved_by, saved_at)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)`,
    [tenantId, v.flow_id, v.version, v.definition_text, v.definition_text, v.definition_sha256, v.saved_by, v.saved_at],
  );
}

export async function getFlow(tx: Queryable, id: string, forUpdate = false): Promise<FlowRow | null> {
  const r = await tx.query<FlowRow>(
    `SELECT ${FLOW_COLUMNS} FROM flows WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return r.rows[0] ?? null;
}

export async function listFlows(tx: Queryable, limit: number, afterId: string | null): Promise<FlowRow[]> {
  const r = await tx.query<FlowRow>(
    `SELECT ${FLOW_COLUMNS} FROM flows WHERE ($1::text IS NULL OR id < $1) ORDER BY id DESC LIMIT $2`,
    [afterId, limit],
  );
  return r.rows;
}

/** Applies a lifecycle change only if the row is still at `rowVersion` (compare-and-set). */
export async function updateFlow(
  tx: Queryable,
  id: string,
  rowVersion: number,
  set: Partial<
    Pick<FlowRow, 'name' | 'partition_id' | 'status' | 'latest_version' | 'published_version' | 'archived_at'>
  > & {
    updated_at: Date;
  },
): Promise<boolean> {
  const cols = Object.keys(set) as (keyof typeof set)[];
  const assignments = cols.map((c, i) => `${c} = $${i + 3}`).join(', ');
  const r = await tx.query(
    `UPDATE flows SET ${assignments}, row_version = row_version + 1 WHERE id = $1 AND row_version = $2`,
    [id, rowVersion, ...cols.map((c) => set[c])],
  );
  return r.rowCount === 1;
}

export async function listVersions(tx: Queryable, flowId: string): Promise<Omit<FlowVersionRow, 'definition'>[]> {
  const r = await tx.query<Omit<FlowVersionRow, 'definition'>>(
    `SELECT flow_id, version, definition_sha256, saved_by, saved_at FROM flow_versions WHERE flow_id = $1 ORDER BY version DESC`,
    [flowId],
  );
  return r.rows;
}

export async function getVersion(tx: Queryable, flowId: string, version: number): Promise<FlowVersionRow | null> {
  const r = await tx.query<FlowVersionRow>(
    `SELECT flow_id, version, definition, definition_sha256, saved_by, saved_at FROM flow_versions
      WHERE flow_id = $1 AND version = $2`,
    [flowId, version],
  );
  return r.rows[0] ?? null;
}
