// Appending to the chained ledger. Runs inside the ingest transaction that also stores the
// consumer offsets, so a batch is either entirely in the ledger with its offsets or not at all.
// One batch holds many tenants; every step is one statement for all of them, so the number of
// round trips does not grow with the number of tenants in a batch.
import type { AnyEvent } from '@flow8/contracts';
import type { PoolClient } from '@flow8/db';
import { chainHash, entryCanonical, GENESIS_HASH } from '@flow8/ledger';

export interface AppendedEntry {
  tenantId: string;
  seq: number;
  eventId: string;
  hash: Uint8Array;
}

/**
 * Appends the events of each tenant in order. `byTenant` must hold each tenant's events in the
 * order they were produced. The tenants' head rows are locked FOR UPDATE in tenant order, so no
 * other consumer can extend these chains meanwhile and two transactions never deadlock.
 */
export interface AppendResult {
  appended: AppendedEntry[];
  /** Events whose id is already recorded under a different tenant: not appended. */
  conflicts: AnyEvent[];
}

export async function appendEvents(
  client: PoolClient,
  byTenant: Map<string, AnyEvent[]>,
  recordedAt: string,
): Promise<AppendResult> {
  const tenants = [...byTenant.keys()].sort();
  if (tenants.length === 0) return { appended: [], conflicts: [] };
  // Row-level security: this transaction may touch exactly these tenants.
  await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenants.join(',')]);

  const allIds: string[] = [];
  for (const events of byTenant.values()) for (const e of events) allIds.push(e.id);
  // Ids already recorded: for these tenants it is a redelivery (after a rebalance, or a relay
  // that published twice) and is skipped; for another tenant it is a conflict the caller
  // dead-letters — appending it would violate UNIQUE(event_id) and stall the partition.
  const recorded = await client.query<{ event_id: string; in_context: boolean }>(
    'SELECT event_id, in_context FROM ledger_recorded_event_ids($1::uuid[])',
    [allIds],
  );
  const known = new Set(recorded.rows.map((r) => r.event_id));
  const foreign = new Set(recorded.rows.filter((r) => !r.in_context).map((r) => r.event_id));

  await client.query(
    `WITH t AS (INSERT INTO ledger_tenants (tenant_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING)
     INSERT INTO ledger_heads (tenant_id, seq, hash) SELECT unnest($1::text[]), 0, $2 ON CONFLICT (tenant_id) DO NOTHING`,
    [tenants, Buffer.from(GENESIS_HASH)],
  );
  const heads = await client.query<{ tenant_id: string; seq: string; hash: Buffer }>(
    'SELECT tenant_id, seq, hash FROM ledger_heads WHERE tenant_id = ANY($1::text[]) ORDER BY tenant_id FOR UPDATE',
    [tenants],
  );
  const headOf = new Map(heads.rows.map((h) => [h.tenant_id, h]));

  const cols = {
    tenant: [] as string[],
    seq: [] as number[],
    eventId: [] as string[],
    type: [] as string[],
    actorType: [] as string[],
    actorId: [] as string[],
    resourceType: [] as string[],
    resourceId: [] as string[],
    occurredAt: [] as string[],
    // Binary columns travel base64-encoded: node-pg would send bytea[] elements as quoted hex,
    // twice the size, and that encoding was the largest cost of the append (see benchmarks.md).
    canonical: [] as string[],
    prevHash: [] as string[],
    hash: [] as string[],
  };
  const newHeads = { tenant: [] as string[], seq: [] as number[], hash: [] as Buffer[] };
  const appended: AppendedEntry[] = [];
  const conflicts: AnyEvent[] = [];
  for (const tenantId of tenants) {
    const head = headOf.get(tenantId)!;
    let seq = Number(head.seq);
    let prev: Uint8Array = head.hash;
    const seen = new Set<string>();
    for (const e of byTenant.get(tenantId)!) {
      if (foreign.has(e.id)) {
        conflicts.push(e);
        continue;
      }
      if (known.has(e.id) || seen.has(e.id)) continue;
      seen.add(e.id);
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
      cols.tenant.push(tenantId);
      cols.seq.push(seq);
      cols.eventId.push(e.id);
      cols.type.push(e.type);
      cols.actorType.push(e.actor.type);
      cols.actorId.push(e.actor.id);
      cols.resourceType.push(e.resource.type);
      cols.resourceId.push(e.resource.id);
      cols.occurredAt.push(e.occurredAt);
      cols.canonical.push(Buffer.from(canonical.buffer, canonical.byteOffset, canonical.byteLength).toString('base64'));
      cols.prevHash.push(Buffer.from(prev.buffer, prev.byteOffset, prev.byteLength).toString('base64'));
      cols.hash.push(Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('base64'));
      appended.push({ tenantId, seq, eventId: e.id, hash });
      prev = hash;
    }
    if (seq !== Number(head.seq)) {
      newHeads.tenant.push(tenantId);
      newHeads.seq.push(seq);
      newHeads.hash.push(Buffer.from(prev));
    }
  }
  if (appended.length === 0) return { appended, conflicts };

  // One statement per table for the whole batch: arrays in, unnest out.
  await client.query(
    `INSERT INTO ledger_sequence (tenant_id, seq, event_id, recorded_at)
     SELECT t, s, id, $4::timestamptz FROM unnest($1::text[], $2::bigint[], $3::uuid[]) AS u(t, s, id)`,
    [cols.tenant, cols.seq, cols.eventId, recordedAt],
  );
  await client.query(
    `INSERT INTO ledger_entries (tenant_id, seq, event_id, event_type, actor_type, actor_id, resource_type, resource_id,
                                 occurred_at, recorded_at, canonical, prev_hash, hash)
     SELECT t, s, id, ty, at, ai, rt, ri, oa, $13::timestamptz, decode(c, 'base64'), decode(p, 'base64'), decode(h, 'base64')
     FROM unnest($1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                 $9::timestamptz[], $10::text[], $11::text[], $12::text[]) AS u(t, s, id, ty, at, ai, rt, ri, oa, c, p, h)`,
    [
      cols.tenant,
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
  await client.query(
    `UPDATE ledger_heads h SET seq = u.s, hash = u.hh, updated_at = now()
     FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS u(t, s, hh) WHERE h.tenant_id = u.t`,
    [newHeads.tenant, newHeads.seq, newHeads.hash],
  );
  return { appended, conflicts };
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
  const { rows } = await client.query<{ next_offset: string }>(
    `INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, 0)
     ON CONFLICT (group_id, topic, partition) DO UPDATE SET group_id = EXCLUDED.group_id
     RETURNING next_offset`,
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
