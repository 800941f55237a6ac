// Appending to the chained ledger. Runs inside the ingest transaction that also stores the
// consumer offsets, so a batch is either entirely in the ledger with its offsets or not at all.
import type { AnyEvent } from '@flow8/contracts';
import { setTenant, type PoolClient } from '@flow8/db';
import { chainHash, entryCanonical, GENESIS_HASH } from '@flow8/ledger';

export interface AppendedEntry {
  tenantId: string;
  seq: number;
  eventId: string;
  hash: Uint8Array;
}

/** Event ids of this tenant already in the ledger (redelivery after a rebalance or a relay retry). */
async function knownEventIds(client: PoolClient, eventIds: string[]): Promise<Set<string>> {
  const { rows } = await client.query<{ event_id: string }>(
    'SELECT event_id FROM ledger_sequence WHERE event_id = ANY($1::uuid[])',
    [eventIds],
  );
  return new Set(rows.map((r) => r.event_id));
}

/**
 * Appends one tenant's events in order. The caller holds the transaction; the head row is
 * locked FOR UPDATE so no other consumer can extend the chain meanwhile.
 */
export async function appendTenantEvents(
  client: PoolClient,
  tenantId: string,
  events: AnyEvent[],
  recordedAt: string,
): Promise<AppendedEntry[]> {
  await setTenant(client, tenantId);
  const known = await knownEventIds(
    client,
    events.map((e) => e.id),
  );
  const fresh: AnyEvent[] = [];
  const seen = new Set<string>();
  for (const e of events) {
    if (known.has(e.id) || seen.has(e.id)) continue;
    seen.add(e.id);
    fresh.push(e);
  }
  if (fresh.length === 0) return [];

  await client.query('INSERT INTO ledger_tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING', [tenantId]);
  await client.query(
    'INSERT INTO ledger_heads (tenant_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (tenant_id) DO NOTHING',
    [tenantId, Buffer.from(GENESIS_HASH)],
  );
  const head = await client.query<{ seq: string; hash: Buffer }>(
    'SELECT seq, hash FROM ledger_heads WHERE tenant_id = $1 FOR UPDATE',
    [tenantId],
  );
  let seq = Number(head.rows[0]!.seq);
  let prev: Uint8Array = head.rows[0]!.hash;

  const cols = {
    seq: [] as number[],
    eventId: [] as string[],
    type: [] as string[],
    actorType: [] as string[],
    actorId: [] as string[],
    resourceType: [] as string[],
    resourceId: [] as string[],
    occurredAt: [] as string[],
    canonical: [] as Buffer[],
    prevHash: [] as Buffer[],
    hash: [] as Buffer[],
  };
  const appended: AppendedEntry[] = [];
  for (const e of fresh) {
    seq += 1;
    const canonical = entryCanonical({
      tenantId,
      seq,
      eventId: e.id,
      type: e.type,
      occurredAt: e.occurredAt,
      recordedAt,
      actor: e.actor,
      resource: e.resource,
      purpose: e.purpose,
      traceparent: e.traceparent,
      payload: e.payload as unknown as Record<string, unknown>,
    });
    const hash = chainHash(prev, canonical);
    cols.seq.push(seq);
    cols.eventId.push(e.id);
    cols.type.push(e.type);
    cols.actorType.push(e.actor.type);
    cols.actorId.push(e.actor.id);
    cols.resourceType.push(e.resource.type);
    cols.resourceId.push(e.resource.id);
    cols.occurredAt.push(e.occurredAt);
    cols.canonical.push(Buffer.from(canonical));
    cols.prevHash.push(Buffer.from(prev));
    cols.hash.push(Buffer.from(hash));
    appended.push({ tenantId, seq, eventId: e.id, hash });
    prev = hash;
  }

  // One statement per table for the whole batch: arrays in, unnest out.
  await client.query(
    `INSERT INTO ledger_sequence (tenant_id, seq, event_id, recorded_at)
     SELECT $1, s, id, $4::timestamptz FROM unnest($2::bigint[], $3::uuid[]) AS t(s, id)`,
    [tenantId, cols.seq, cols.eventId, recordedAt],
  );
  await client.query(
    `INSERT INTO ledger_entries (tenant_id, seq, event_id, event_type, actor_type, actor_id, resource_type, resource_id,
                                 occurred_at, recorded_at, canonical, prev_hash, hash)
     SELECT $1, s, id, ty, at, ai, rt, ri, oa, $13::timestamptz, c, p, h
     FROM unnest($2::bigint[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                 $9::timestamptz[], $10::bytea[], $11::bytea[], $12::bytea[]) AS t(s, id, ty, at, ai, rt, ri, oa, c, p, h)`,
    [
      tenantId,
      cols.seq,
      cols.eventId,
      cols.type,
      cols.actorType,
      cols.actorId,
      cols.resourceType,
      cols.resourceId,
      cols.occurredAt,
      cols.canonical,
      cols.prevHash,
      cols.hash,
      recordedAt,
    ],
  );
  await client.query('UPDATE ledger_heads SET seq = $2, hash = $3, updated_at = now() WHERE tenant_id = $1', [
    tenantId,
    seq,
    Buffer.from(prev),
  ]);
  return appended;
}

/**
 * Locks this partition's offset row and returns the next offset to apply. Messages below it
 * were applied by an earlier transaction (possibly another consumer before a rebalance).
 */
export async function lockOffset(
  client: PoolClient,
  groupId: string,
  topic: string,
  partition: number,
): Promise<bigint> {
  await client.query(
    `INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, 0)
     ON CONFLICT DO NOTHING`,
    [groupId, topic, partition],
  );
  const { rows } = await client.query<{ next_offset: string }>(
    'SELECT next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2 AND partition = $3 FOR UPDATE',
    [groupId, topic, partition],
  );
  return BigInt(rows[0]!.next_offset);
}

export async function storeOffset(
  client: PoolClient,
  groupId: string,
  topic: string,
  partition: number,
  nextOffset: bigint,
): Promise<void> {
  await client.query(
    `UPDATE consumer_offsets SET next_offset = $4, updated_at = now()
     WHERE group_id = $1 AND topic = $2 AND partition = $3`,
    [groupId, topic, partition, nextOffset.toString()],
  );
}
