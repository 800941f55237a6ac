import type { PoolClient } from '@flow8/db';
import type { IndexedColumns } from '@flow8/ledger';

export interface EntryRow {
  seq: number;
  prevHash: Buffer;
  hash: Buffer;
  canonical: Buffer;
  /** The row's search columns as stored (entryRange only): the verifier checks them against `canonical`. */
  columns?: IndexedColumns;
}

export interface EntryFilter {
  type?: string;
  actorId?: string;
  resourceType?: string;
  resourceId?: string;
  from?: string;
  to?: string;
  /** Only entries with seq below this (keyset pagination, newest first). */
  beforeSeq?: number;
}

type Raw = { seq: string; prev_hash: Buffer; hash: Buffer; canonical: Buffer };
const toRow = (r: Raw): EntryRow => ({
  seq: Number(r.seq),
  prevHash: r.prev_hash,
  hash: r.hash,
  canonical: r.canonical,
});

/** Newest first. Row-level security already limits rows to the transaction's tenant. */
export async function queryEntries(
  client: PoolClient,
  tenantId: string,
  f: EntryFilter,
  limit: number,
): Promise<EntryRow[]> {
  const where = ['tenant_id = $1'];
  const args: unknown[] = [tenantId];
  const add = (sql: string, v: unknown) => {
    args.push(v);
    where.push(sql.replace('?', `$${args.length}`));
  };
  if (f.type) add('event_type = ?', f.type);
  if (f.actorId) add('actor_id = ?', f.actorId);
  if (f.resourceType) add('resource_type = ?', f.resourceType);
  if (f.resourceId) add('resource_id = ?', f.resourceId);
  if (f.from) add('occurred_at >= ?::timestamptz', f.from);
  if (f.to) add('occurred_at < ?::timestamptz', f.to);
  if (f.beforeSeq !== undefined) add('seq < ?', f.beforeSeq);
  args.push(limit);
  const { rows } = await client.query<Raw>(
    `SELECT seq, prev_hash, hash, canonical FROM ledger_entries WHERE ${where.join(' AND ')}
     ORDER BY seq DESC LIMIT $${args.length}`,
    args,
  );
  return rows.map(toRow);
}

// Timestamps as the format page's IndexedColumns spell them: UTC, microseconds (what the column keeps).
const UTC_MICROS = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
type RawWithColumns = Raw & {
  c_event_id: string;
  event_type: string;
  actor_type: string;
  actor_id: string;
  resource_type: string;
  resource_id: string;
  c_occurred_at: string;
  c_recorded_at: string;
};

/** Ascending seq range [fromSeq, toSeq], one page, with every indexed column as stored. */
export async function entryRange(
  client: PoolClient,
  tenantId: string,
  fromSeq: number,
  toSeq: number,
  limit: number,
): Promise<EntryRow[]> {
  const { rows } = await client.query<RawWithColumns>(
    `SELECT seq, prev_hash, hash, canonical, event_id::text AS c_event_id, event_type, actor_type, actor_id,
            resource_type, resource_id,
            to_char(occurred_at AT TIME ZONE 'UTC', ${UTC_MICROS}) AS c_occurred_at,
            to_char(recorded_at AT TIME ZONE 'UTC', ${UTC_MICROS}) AS c_recorded_at
     FROM ledger_entries
     WHERE tenant_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4`,
    [tenantId, fromSeq, toSeq, limit],
  );
  return rows.map((r) => ({
    ...toRow(r),
    columns: {
      eventId: r.c_event_id,
      type: r.event_type,
      actorType: r.actor_type,
      actorId: r.actor_id,
      resourceType: r.resource_type,
      resourceId: r.resource_id,
      occurredAt: r.c_occurred_at,
      recordedAt: r.c_recorded_at,
    },
  }));
}

/** The highest seq stored for the tenant (0: none). The entries themselves, not the head row. */
export async function lastStoredSeq(client: PoolClient, tenantId: string): Promise<number> {
  const { rows } = await client.query<{ seq: string | null }>(
    'SELECT max(seq) AS seq FROM ledger_entries WHERE tenant_id = $1',
    [tenantId],
  );
  return Number(rows[0]?.seq ?? 0);
}

export async function head(client: PoolClient, tenantId: string): Promise<{ seq: number; hash: Buffer } | null> {
  const { rows } = await client.query<{ seq: string; hash: Buffer }>(
    'SELECT seq, hash FROM ledger_heads WHERE tenant_id = $1',
    [tenantId],
  );
  const r = rows[0];
  return r && Number(r.seq) > 0 ? { seq: Number(r.seq), hash: r.hash } : null;
}

/** The seq range of entries recorded in [from, to). */
export async function seqRangeForTime(
  client: PoolClient,
  tenantId: string,
  from: string | undefined,
  to: string | undefined,
): Promise<{ first: number; last: number } | null> {
  const { rows } = await client.query<{ first: string | null; last: string | null }>(
    `SELECT min(seq) AS first, max(seq) AS last FROM ledger_entries
     WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR recorded_at >= $2) AND ($3::timestamptz IS NULL OR recorded_at < $3)`,
    [tenantId, from ?? null, to ?? null],
  );
  const r = rows[0];
  return r?.first && r.last ? { first: Number(r.first), last: Number(r.last) } : null;
}
