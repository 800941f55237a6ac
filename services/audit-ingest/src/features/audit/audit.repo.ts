import type { PoolClient } from '@flow8/db';

export interface EntryRow {
  seq: number;
  prevHash: Buffer;
  hash: Buffer;
  canonical: Buffer;
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

/** Ascending seq range [fromSeq, toSeq], one page. */
export async function entryRange(
  client: PoolClient,
  tenantId: string,
  fromSeq: number,
  toSeq: number,
  limit: number,
): Promise<EntryRow[]> {
  const { rows } = await client.query<Raw>(
    `SELECT seq, prev_hash, hash, canonical FROM ledger_entries
     WHERE tenant_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4`,
    [tenantId, fromSeq, toSeq, limit],
  );
  return rows.map(toRow);
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
