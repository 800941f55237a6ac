import type { Queryable } from '@flow8/db';

// Key maintenance spans companies. The runtime role never reads another company's rows: the
// cross-company questions are answered by SECURITY DEFINER functions (migration 0004) with ids,
// counts and key metadata only; key material is read and written per company, under tenant_isolation.

export interface RootKeyRow {
  fingerprint: string;
  createdAt: Date;
  createdBy: string;
  retiredAt: Date | null;
  retiredBy: string | null;
}

export async function listRootKeys(tx: Queryable): Promise<RootKeyRow[]> {
  const { rows } = await tx.query<{
    fingerprint: string;
    created_at: Date;
    created_by: string;
    retired_at: Date | null;
    retired_by: string | null;
  }>(
    'SELECT fingerprint, created_at, created_by, retired_at, retired_by FROM root_keys ORDER BY created_at, fingerprint',
  );
  return rows.map((r) => ({
    fingerprint: r.fingerprint,
    createdAt: r.created_at,
    createdBy: r.created_by,
    retiredAt: r.retired_at,
    retiredBy: r.retired_by,
  }));
}

export async function insertRootKey(tx: Queryable, fingerprint: string, createdBy: string): Promise<void> {
  await tx.query('INSERT INTO root_keys (fingerprint, created_by) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
    fingerprint,
    createdBy,
  ]);
}

/** Live data keys per root fingerprint, across companies (counts only). */
export async function dataKeysPerRoot(tx: Queryable): Promise<Map<string, number>> {
  const { rows } = await tx.query<{ root_fingerprint: string; n: string }>(
    'SELECT root_fingerprint, data_keys::text AS n FROM vault_data_keys_per_root()',
  );
  return new Map(rows.map((r) => [r.root_fingerprint, Number(r.n)]));
}

export interface DataKeyRef {
  tenantId: string;
  id: string;
}

/** Every company's retiring data keys (ids only), for the re-encryption worker. */
export async function retiringDataKeyRefs(tx: Queryable): Promise<DataKeyRef[]> {
  const { rows } = await tx.query<{ tenant_id: string; id: string }>(
    'SELECT tenant_id, id FROM vault_retiring_data_keys()',
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, id: r.id }));
}

/** Up to `limit` live data keys wrapped under a root key (ids only), for the root re-wrap. */
export async function dataKeyRefsUnderRoot(tx: Queryable, fingerprint: string, limit: number): Promise<DataKeyRef[]> {
  const { rows } = await tx.query<{ tenant_id: string; id: string }>(
    'SELECT tenant_id, id FROM vault_data_keys_under_root($1, $2)',
    [fingerprint, limit],
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, id: r.id }));
}

/** A data key as the operator's status shows it: metadata and record count, never key material. */
export type DataKeyStatusRow = Omit<DataKeyRow, 'wrapped'> & { records: number };

export async function keyStatusRows(tx: Queryable): Promise<DataKeyStatusRow[]> {
  const { rows } = await tx.query<Omit<RawDataKey, 'wrapped'> & { records: string }>(
    `SELECT tenant_id, id, version, status, root_fingerprint, used_for_fields, created_at, retired_at,
            records::text AS records FROM vault_key_status()`,
  );
  return rows.map((r) => ({
    id: r.id,
    tenantId: r.tenant_id,
    version: r.version,
    status: r.status,
    rootFingerprint: r.root_fingerprint,
    usedForFields: r.used_for_fields,
    createdAt: r.created_at,
    retiredAt: r.retired_at,
    records: Number(r.records),
  }));
}

export interface DataKeyRow {
  id: string;
  tenantId: string;
  version: number;
  status: 'active' | 'retiring' | 'retired';
  rootFingerprint: string | null;
  wrapped: Buffer | null;
  usedForFields: boolean;
  createdAt: Date;
  retiredAt: Date | null;
}

type RawDataKey = {
  id: string;
  tenant_id: string;
  version: number;
  status: DataKeyRow['status'];
  root_fingerprint: string | null;
  wrapped: Buffer | null;
  used_for_fields: boolean;
  created_at: Date;
  retired_at: Date | null;
};
const DK_COLUMNS = 'id, tenant_id, version, status, root_fingerprint, wrapped, used_for_fields, created_at, retired_at';
const toDataKey = (r: RawDataKey): DataKeyRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  version: r.version,
  status: r.status,
  rootFingerprint: r.root_fingerprint,
  wrapped: r.wrapped,
  usedForFields: r.used_for_fields,
  createdAt: r.created_at,
  retiredAt: r.retired_at,
});

export async function activeDataKey(tx: Queryable, tenantId: string): Promise<DataKeyRow | undefined> {
  const { rows } = await tx.query<RawDataKey>(
    `SELECT ${DK_COLUMNS} FROM data_keys WHERE tenant_id = $1 AND status = 'active'`,
    [tenantId],
  );
  return rows[0] ? toDataKey(rows[0]) : undefined;
}

export async function dataKeyById(tx: Queryable, tenantId: string, id: string): Promise<DataKeyRow | undefined> {
  const { rows } = await tx.query<RawDataKey>(`SELECT ${DK_COLUMNS} FROM data_keys WHERE tenant_id = $1 AND id = $2`, [
    tenantId,
    id,
  ]);
  return rows[0] ? toDataKey(rows[0]) : undefined;
}

export async function listDataKeys(tx: Queryable, tenantId: string): Promise<DataKeyRow[]> {
  const { rows } = await tx.query<RawDataKey>(
    `SELECT ${DK_COLUMNS} FROM data_keys WHERE tenant_id = $1 ORDER BY version`,
    [tenantId],
  );
  return rows.map(toDataKey);
}

export async function insertDataKey(
  tx: Queryable,
  k: { id: string; tenantId: string; version: number; rootFingerprint: string; wrapped: Uint8Array; createdBy: string },
): Promise<void> {
  await tx.query(
    `INSERT INTO data_keys (id, tenant_id, version, status, root_fingerprint, wrapped, created_by)
     VALUES ($1, $2, $3, 'active', $4, $5, $6)`,
    [k.id, k.tenantId, k.version, k.rootFingerprint, Buffer.from(k.wrapped), k.createdBy],
  );
}

export async function maxDataKeyVersion(tx: Queryable, tenantId: string): Promise<number> {
  const { rows } = await tx.query<{ v: number | null }>(
    'SELECT max(version) AS v FROM data_keys WHERE tenant_id = $1',
    [tenantId],
  );
  return rows[0]?.v ?? 0;
}

/** Records (current credential versions) of one company sealed with each of its data keys. */
export async function recordsPerDataKey(tx: Queryable, tenantId: string): Promise<Map<string, number>> {
  const { rows } = await tx.query<{ data_key_id: string; n: string }>(
    `SELECT data_key_id, count(*)::text AS n FROM credential_versions
      WHERE data_key_id IS NOT NULL AND tenant_id = $1 GROUP BY data_key_id`,
    [tenantId],
  );
  return new Map(rows.map((r) => [r.data_key_id, Number(r.n)]));
}
