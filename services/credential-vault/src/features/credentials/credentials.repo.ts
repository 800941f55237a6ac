import type { Grant } from '@flow8/authz';
import type { Queryable } from '@flow8/db';
import {
  grantHolderIdsSql,
  grantsFromRows,
  liveGrantsJsonSql,
  livePrincipalJsonSql,
  principalFromJson,
  type GrantPrincipalRef,
  type GrantReplicaRow,
  type ReplicatedPrincipal,
} from '@flow8/grants';
import type { CredentialKind, Integration } from './scopes';

export interface CredentialRow {
  id: string;
  tenantId: string;
  integration: Integration;
  name: string;
  kind: CredentialKind;
  scopes: string[];
  status: 'active' | 'revoked';
  currentVersion: number;
  createdAt: Date;
  createdBy: string;
  updatedAt: Date;
  revokedAt: Date | null;
}

type Raw = {
  id: string;
  tenant_id: string;
  integration: Integration;
  name: string;
  kind: CredentialKind;
  scopes: string[];
  status: 'active' | 'revoked';
  current_version: number;
  created_at: Date;
  created_by: string;
  updated_at: Date;
  revoked_at: Date | null;
};
const COLUMNS =
  'c.id, c.tenant_id, c.integration, c.name, c.kind, c.scopes, c.status, c.current_version, c.created_at, c.created_by, c.updated_at, c.revoked_at';
const toRow = (r: Raw): CredentialRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  integration: r.integration,
  name: r.name,
  kind: r.kind,
  scopes: r.scopes,
  status: r.status,
  currentVersion: r.current_version,
  createdAt: r.created_at,
  createdBy: r.created_by,
  updatedAt: r.updated_at,
  revokedAt: r.revoked_at,
});

export async function insertCredential(
  tx: Queryable,
  c: {
    id: string;
    tenantId: string;
    integration: Integration;
    name: string;
    kind: CredentialKind;
    scopes: string[];
    createdBy: string;
  },
): Promise<CredentialRow> {
  const { rows } = await tx.query<Raw>(
    `INSERT INTO credentials AS c (id, tenant_id, integration, name, kind, scopes, status, current_version, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, 'active', 1, $7) RETURNING ${COLUMNS}`,
    [c.id, c.tenantId, c.integration, c.name, c.kind, c.scopes, c.createdBy],
  );
  return toRow(rows[0]!);
}

export async function insertVersion(
  tx: Queryable,
  v: { tenantId: string; credentialId: string; version: number; ciphertext: Uint8Array; dataKeyId: string },
): Promise<void> {
  await tx.query(
    `INSERT INTO credential_versions (tenant_id, credential_id, version, status, ciphertext, data_key_id)
     VALUES ($1, $2, $3, 'current', $4, $5)`,
    [v.tenantId, v.credentialId, v.version, Buffer.from(v.ciphertext), v.dataKeyId],
  );
}

/** Ends the working life of a version: its sealed secret is destroyed, not kept. */
export async function endVersion(
  tx: Queryable,
  credentialId: string,
  version: number,
  status: 'superseded' | 'revoked',
): Promise<void> {
  await tx.query(
    `UPDATE credential_versions SET status = $3, ciphertext = NULL, data_key_id = NULL
      WHERE credential_id = $1 AND version = $2 AND status = 'current'`,
    [credentialId, version, status],
  );
}

export async function getCredential(
  tx: Queryable,
  tenantId: string,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<CredentialRow | undefined> {
  const { rows } = await tx.query<Raw>(
    `SELECT ${COLUMNS} FROM credentials c WHERE c.tenant_id = $1 AND c.id = $2${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [tenantId, id],
  );
  return rows[0] ? toRow(rows[0]) : undefined;
}

export async function listCredentials(
  tx: Queryable,
  tenantId: string,
  opts: { afterId?: string | undefined; limit: number; integrations: readonly string[] },
): Promise<CredentialRow[]> {
  const { rows } = await tx.query<Raw>(
    `SELECT ${COLUMNS} FROM credentials c
      WHERE c.tenant_id = $1 AND ($2::text IS NULL OR c.id > $2) AND c.integration = ANY($4::text[])
      ORDER BY c.id LIMIT $3`,
    [tenantId, opts.afterId ?? null, opts.limit, opts.integrations],
  );
  return rows.map(toRow);
}

export async function setCurrentVersion(tx: Queryable, id: string, version: number): Promise<void> {
  await tx.query('UPDATE credentials SET current_version = $2, updated_at = now() WHERE id = $1', [id, version]);
}

export async function markRevoked(tx: Queryable, id: string, by: string): Promise<void> {
  await tx.query(
    `UPDATE credentials SET status = 'revoked', revoked_at = now(), revoked_by = $2, updated_at = now() WHERE id = $1`,
    [id, by],
  );
}

export interface SealedSecretRow {
  credential: CredentialRow;
  ciphertext: Buffer | null;
  dataKeyId: string | null;
  wrapped: Buffer | null;
}

type RawSealed = Raw & { ciphertext: Buffer | null; data_key_id: string | null; wrapped: Buffer | null };
const SEALED_FROM = `FROM credentials c
       LEFT JOIN credential_versions v ON v.credential_id = c.id AND v.version = c.current_version AND v.status = 'current'
       LEFT JOIN data_keys d ON d.id = v.data_key_id AND d.tenant_id = c.tenant_id
      WHERE c.tenant_id = $1 AND c.id = $2`;
const toSealed = (r: RawSealed): SealedSecretRow => ({
  credential: toRow(r),
  ciphertext: r.ciphertext,
  dataKeyId: r.data_key_id,
  wrapped: r.wrapped,
});

/**
 * The credential with its current version's sealed secret and the wrapped data key that sealed
 * it, in one snapshot (a concurrent re-encryption or re-wrap is seen entirely or not at all).
 */
export async function getSealedSecret(
  tx: Queryable,
  tenantId: string,
  id: string,
): Promise<SealedSecretRow | undefined> {
  const { rows } = await tx.query<RawSealed>(
    `SELECT ${COLUMNS}, v.ciphertext, v.data_key_id, d.wrapped ${SEALED_FROM}`,
    [tenantId, id],
  );
  return rows[0] ? toSealed(rows[0]) : undefined;
}

// ---- resolve: the hot path, in as few round trips as the guarantees allow (docs/benchmarks.md)

/** The credential columns resolve decides on (no name or timestamps: nothing it returns or records). */
export type ResolveCredential = Pick<
  CredentialRow,
  'id' | 'integration' | 'kind' | 'scopes' | 'status' | 'currentVersion'
>;

export interface ResolveRow extends Omit<SealedSecretRow, 'credential'> {
  credential: ResolveCredential;
  /** The live grants of the principal the step runs for, and of its owner for an API key. */
  grants: GrantReplicaRow[];
}

export interface ResolveRead {
  /** The principal the step runs for as the replicated copy knows it; null if not a live one of the company. */
  principal: ReplicatedPrincipal | null;
  /** The credential (undefined when the company has none with this id). */
  found: ResolveRow | undefined;
}

type ResolveColumns = Pick<Raw, 'id' | 'integration' | 'kind' | 'scopes' | 'status' | 'current_version'> & {
  ciphertext: Buffer | null;
  data_key_id: string | null;
  wrapped: Buffer | null;
  grants: GrantReplicaRow[];
};
/** The credential's columns are all NULL when the company has no credential with this id. */
type RawResolve = { principal: unknown } & { [K in keyof ResolveColumns]: ResolveColumns[K] | null };

// Named (prepared once per connection): resolve runs these thousands of times a second, and
// parsing and planning the joins and RLS policies each time costs more than running them.
// Always one row: the principal (or NULL), and the credential's columns (NULL when not found).
const RESOLVE_READ = {
  name: 'vault.resolve.read.v2',
  text: `SELECT ${livePrincipalJsonSql('$1', '$3')} AS principal, r.*
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
      SELECT c.id, c.integration, c.kind, c.scopes, c.status, c.current_version, v.ciphertext, v.data_key_id, d.wrapped,
        ${liveGrantsJsonSql('c.tenant_id', grantHolderIdsSql('$1', '$3'))} AS grants
      ${SEALED_FROM}) AS r ON true`,
};
const RESOLVE_LOCK = {
  name: 'vault.resolve.lock',
  text: 'SELECT 1 FROM credentials c WHERE c.tenant_id = $1 AND c.id = $2 FOR UPDATE',
};

/**
 * What resolve decides on, in one statement (one snapshot): the principal the step runs for from
 * the replicated copy (its real role; for an API key its scopes and owner), the credential, its
 * current sealed secret and wrapped data key (as getSealedSecret), and the live grants of the
 * principal (and of an API key's owner) — read now, never cached, so a removed grant, a role
 * change or a removed user counts as soon as the copy has it.
 */
export async function getForResolve(
  tx: Queryable,
  tenantId: string,
  id: string,
  principalId: string | null,
): Promise<ResolveRead> {
  const { rows } = await tx.query<RawResolve>({ ...RESOLVE_READ, values: [tenantId, id, principalId] });
  const r = rows[0];
  const principal = principalFromJson(r?.principal ?? null);
  if (!r || r.id === null) return { principal, found: undefined };
  return {
    principal,
    found: {
      credential: {
        id: r.id,
        integration: r.integration!,
        kind: r.kind!,
        scopes: r.scopes!,
        status: r.status!,
        currentVersion: r.current_version!,
      },
      ciphertext: r.ciphertext,
      dataKeyId: r.data_key_id,
      wrapped: r.wrapped,
      grants: r.grants ?? [],
    },
  };
}

/** The live grants of these holders among rows read by getForResolve. */
export const resolveGrants = (row: ResolveRow, holders: readonly GrantPrincipalRef[]): Grant[] =>
  grantsFromRows(row.grants, holders);

/** Holds the credential row until the transaction ends (an oauth2 refresh may follow). */
export async function lockCredential(tx: Queryable, tenantId: string, id: string): Promise<void> {
  await tx.query({ ...RESOLVE_LOCK, values: [tenantId, id] });
}
