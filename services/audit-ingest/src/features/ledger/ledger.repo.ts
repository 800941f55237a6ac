// Appending to the chained ledger. Runs inside the ingest transaction that also stores the
// consumer offsets, so a batch is either entirely in the ledger with its offsets or not at all.
// One batch holds many tenants; every step is one statement for all of them, so the number of
// round trips does not grow with the number of tenants in a batch.
import type { AnyEvent } from '@flow8/contracts';
import type { PoolClient } from '@flow8/db';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { CanonicalizationError } from '@flow8/crypto';
import { chainHash, entryCanonical, GENESIS_HASH, LedgerFormatError } from '@flow8/ledger';
import { BinaryCopyWriter, copyFrom } from './copy';

// The batch's staging table: TEMPORARY (private to this session), ON COMMIT DELETE ROWS (its
// rows never outlive the transaction, committed or rolled back), created once per connection —
// a table created and dropped per batch would churn the system catalogs. See migration 0004.
const STAGE_COLUMNS =
  'tenant_id, seq, event_id, event_type, actor_type, actor_id, resource_type, resource_id, occurred_at, canonical, prev_hash, hash';
const STAGE_FIELDS = 12;
const YIELD_EVERY = 1000;
const ENSURE_STAGE = `DO $$ BEGIN
  IF to_regclass('pg_temp.ledger_stage') IS NULL THEN
    CREATE TEMPORARY TABLE ledger_stage (
      tenant_id text NOT NULL, seq bigint NOT NULL, event_id uuid NOT NULL, event_type text NOT NULL,
      actor_type text NOT NULL, actor_id text NOT NULL, resource_type text NOT NULL, resource_id text NOT NULL,
      occurred_at text NOT NULL, canonical bytea NOT NULL, prev_hash bytea NOT NULL, hash bytea NOT NULL
    ) ON COMMIT DELETE ROWS;
  END IF;
END $$`;

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
  /** Events the ledger format cannot hold (the contract should have refused them): not appended. */
  rejected: Array<{ event: AnyEvent; reason: string }>;
}

export async function appendEvents(
  client: PoolClient,
  byTenant: Map<string, AnyEvent[]>,
  recordedAt: string,
): Promise<AppendResult> {
  const tenants = [...byTenant.keys()].sort();
  if (tenants.length === 0) return { appended: [], conflicts: [], rejected: [] };
  // Row-level security: this transaction may touch exactly these tenants.
  await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenants.join(',')]);

  const allIds: string[] = [];
  for (const events of byTenant.values()) for (const e of events) allIds.push(e.id);
  // Ids already recorded: for these tenants it is a redelivery (after a rebalance, or a relay
  // that published twice) and is skipped; for another tenant it is a conflict the caller
  // dead-letters — appending it would violate UNIQUE(event_id) and stall the partition.
  // The ids travel as one text parameter split by the server (node-pg would quote and escape
  // every element of a uuid[]); they are contract-checked UUIDs, anything else fails the cast.
  const recorded = await client.query<{ event_id: string; in_context: boolean }>(
    `SELECT event_id, in_context FROM ledger_recorded_event_ids(string_to_array($1, ',')::uuid[])`,
    [allIds.join(',')],
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

  // Rows travel in binary COPY form (see copy.ts); columns in STAGE_COLUMNS order.
  let pendingCount = 0;
  for (const events of byTenant.values()) pendingCount += events.length;
  const stage = new BinaryCopyWriter(pendingCount * 1024);
  const newHeads = { tenant: [] as string[], seq: [] as number[], hash: [] as Buffer[] };
  const appended: AppendedEntry[] = [];
  const conflicts: AnyEvent[] = [];
  const rejected: AppendResult['rejected'] = [];
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
      let canonical: Uint8Array;
      try {
        canonical = entryCanonical({
          tenantId,
          seq: seq + 1,
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
      } catch (err) {
        // Deterministic: retrying cannot help, and it must not hold up the events behind it.
        if (!(err instanceof CanonicalizationError || err instanceof LedgerFormatError)) throw err;
        rejected.push({ event: e, reason: `the ledger cannot canonicalise this event: ${err.message}` });
        continue;
      }
      seq += 1;
      const hash = chainHash(prev, canonical);
      stage
        .row(STAGE_FIELDS)
        .text(tenantId)
        .int8(seq)
        .uuid(e.id)
        .text(e.type)
        .text(e.actor.type)
        .text(e.actor.id)
        .text(e.resource.type)
        .text(e.resource.id)
        .text(e.occurredAt)
        .bytes(canonical)
        .bytes(prev)
        .bytes(hash);
      appended.push({ tenantId, seq, eventId: e.id, hash });
      prev = hash;
      // Hashing a large batch takes a while: let the other partitions' batches (each in its own
      // transaction) send their statements meanwhile, so Postgres is not left waiting on us.
      if (appended.length % YIELD_EVERY === 0) await yieldToEventLoop();
    }
    if (seq !== Number(head.seq)) {
      newHeads.tenant.push(tenantId);
      newHeads.seq.push(seq);
      newHeads.hash.push(Buffer.from(prev));
    }
  }
  if (appended.length === 0) {
    stage.release();
    return { appended, conflicts, rejected };
  }

  // Stage the batch (session-private, emptied at commit or rollback), then append it under the
  // ledger's row-level security and triggers: the same two INSERTs as before, fed by a table
  // instead of parameter arrays.
  await client.query(ENSURE_STAGE);
  const copied = await copyFrom(
    client,
    `COPY pg_temp.ledger_stage (${STAGE_COLUMNS}) FROM STDIN (FORMAT binary)`,
    stage.finish(),
  );
  // Only now: until the server answered, the socket could still be reading the buffer. (After a
  // failed COPY it is simply dropped.)
  stage.release();
  if (copied !== appended.length) throw new Error(`staged ${copied} ledger rows, expected ${appended.length}`);
  await client.query(
    `INSERT INTO ledger_sequence (tenant_id, seq, event_id, recorded_at)
     SELECT tenant_id, seq, event_id, $1::timestamptz FROM pg_temp.ledger_stage`,
    [recordedAt],
  );
  await client.query(
    `INSERT INTO ledger_entries (tenant_id, seq, event_id, event_type, actor_type, actor_id, resource_type, resource_id,
                                 occurred_at, recorded_at, canonical, prev_hash, hash)
     SELECT tenant_id, seq, event_id, event_type, actor_type, actor_id, resource_type, resource_id,
            occurred_at::timestamptz, $1::timestamptz, canonical, prev_hash, hash
     FROM pg_temp.ledger_stage`,
    [recordedAt],
  );
  await client.query(
    `UPDATE ledger_heads h SET seq = u.s, hash = u.hh, updated_at = now()
     FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS u(t, s, hh) WHERE h.tenant_id = u.t`,
    [newHeads.tenant, newHeads.seq, newHeads.hash],
  );
  return { appended, conflicts, rejected };
}

/**
 * Empties this transaction's staging table, for a caller that appends more than once in one
 * transaction (the one-at-a-time retry); ON COMMIT DELETE ROWS covers the usual single append.
 */
export async function clearStage(client: PoolClient): Promise<void> {
  await client.query(`DO $$ BEGIN
    IF to_regclass('pg_temp.ledger_stage') IS NOT NULL THEN DELETE FROM pg_temp.ledger_stage; END IF;
  END $$`);
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
