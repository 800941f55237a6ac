// Exactly-once ingest: a partition batch's ledger rows and the partition's next offset commit
// in one Postgres transaction. Offsets below the stored one are skipped (redelivery), event ids
// already in the ledger are skipped (a relay that published twice), and the per-tenant head
// lock plus UNIQUE(tenant_id, seq) stop two consumers from forking a chain.
//
// One bad message never stalls a partition: an event the ledger format cannot hold is
// dead-lettered at once; when the database refuses the batch because of what a message holds
// (SQLSTATE class 22 "data exception", 54 "program limit exceeded"), the batch is tried once
// more one event at a time, each under a savepoint, and the events the database refuses are
// dead-lettered while the others land. A unique violation (23505) is first retried — a
// concurrent consumer resolves on the next attempt — and after UNIQUE_RETRIES failures of the
// same batch it is treated the same way: a tenant's chain state that conflicts with what is
// stored (a head row rewritten behind the ledger) then holds up only that tenant's events, in
// the DLQ, not every company on the partition. Any other failure (database down, permissions,
// a missing partition) is the infrastructure's, not a message's: the bus retries it with backoff.
import type { ConsumedEvent, PartitionBatch } from '@flow8/bus';
import type { AnyEvent } from '@flow8/contracts';
import { withTransaction, type Pool, type PoolClient } from '@flow8/db';
import type { Logger } from '@flow8/telemetry';
import type { AuditMetrics } from '../../metrics';
import { appendEvents, clearStage, lockOffset, storeOffset, type AppendedEntry } from './ledger.repo';

type Batch = Pick<PartitionBatch, 'topic' | 'partition' | 'events' | 'lastOffset' | 'deadLetter'>;

export interface IngestService {
  ingestBatch(batch: Batch): Promise<AppendedEntry[]>;
  stats(): { appended: number; duplicates: number; batches: number; conflicts: number; refused: number };
}

/** Failures of one batch with a unique violation before its events are appended one at a time. */
const UNIQUE_RETRIES = 3;

const sqlState = (e: unknown): unknown => (e as { code?: unknown } | null)?.code;

/** SQLSTATE classes that mean "this row's data", not "this database": 22 data exception, 54 limits. */
function refusedForItsData(e: unknown): string | null {
  const code = sqlState(e);
  if (typeof code !== 'string' || !/^(22|54)[0-9A-Z]{3}$/.test(code)) return null;
  // Only the code: Postgres' message may quote the offending value.
  return `the database cannot store this event (SQLSTATE ${code}, ${code.startsWith('22') ? 'data exception' : 'program limit exceeded'})`;
}

function groupByTenant(pending: ConsumedEvent[]): Map<string, AnyEvent[]> {
  const byTenant = new Map<string, AnyEvent[]>();
  for (const { event } of pending) {
    const list = byTenant.get(event.tenantId);
    if (list) list.push(event);
    else byTenant.set(event.tenantId, [event]);
  }
  return byTenant;
}

export function createIngestService(deps: {
  pool: Pool;
  groupId: string;
  logger: Logger;
  metrics: Pick<AuditMetrics, 'appended'>;
  now?: () => Date;
}): IngestService {
  const now = deps.now ?? (() => new Date());
  const stats = { appended: 0, duplicates: 0, batches: 0, conflicts: 0, refused: 0 };

  // Consecutive unique-violation failures per partition batch (the bus retries the same batch).
  const uniqueFailures = new Map<string, number>();

  /** One attempt at the batch in one transaction; `oneByOne` isolates the events the database refuses. */
  async function attempt(batch: Batch, oneByOne: false | { refuseUnique: boolean }) {
    let skipped = 0;
    let deadLettered = 0;
    let refused = 0;
    const appended = await withTransaction(deps.pool, async (client) => {
      const next = await lockOffset(client, deps.groupId, batch.topic, batch.partition);
      const pending = batch.events.filter((e) => BigInt(e.offset) >= next);
      const offsetOf = new Map(pending.map((p) => [p.event, p.offset]));
      // Millisecond UTC, stored verbatim inside the canonical bytes.
      const recordedAt = now().toISOString();
      const out: AppendedEntry[] = [];
      const groups = oneByOne ? pending.map((p) => groupByTenant([p])) : [groupByTenant(pending)];
      for (const group of groups) {
        const result = oneByOne
          ? await isolated(client, oneByOne.refuseUnique, () => appendEvents(client, group, recordedAt))
          : await appendEvents(client, group, recordedAt);
        if ('refusedReason' in result) {
          const [[, [event]]] = [...group] as [[string, [AnyEvent]]];
          await batch.deadLetter(offsetOf.get(event)!, 'PROCESSING_FAILED', [result.refusedReason]);
          refused += 1;
          continue;
        }
        // Dead letters before the offsets move past them (this transaction's commit), so they are never lost.
        for (const e of result.conflicts) {
          await batch.deadLetter(offsetOf.get(e)!, 'PROCESSING_FAILED', [
            `/id event id is already recorded in the ledger for a different tenant`,
          ]);
        }
        for (const { event, reason } of result.rejected) {
          await batch.deadLetter(offsetOf.get(event)!, 'PROCESSING_FAILED', [reason]);
        }
        deadLettered += result.conflicts.length;
        refused += result.rejected.length;
        out.push(...result.appended);
      }
      const last = BigInt(batch.lastOffset);
      if (last + 1n > next) await storeOffset(client, deps.groupId, batch.topic, batch.partition, last + 1n);
      skipped = pending.length - out.length - deadLettered - refused;
      return out;
    });
    return { appended, skipped, conflicts: deadLettered, refused };
  }

  /** Runs one event's append under a savepoint: refused for its data → rolled back and reported. */
  async function isolated<T>(
    client: PoolClient,
    refuseUnique: boolean,
    fn: () => Promise<T>,
  ): Promise<T | { refusedReason: string }> {
    await client.query('SAVEPOINT ledger_one');
    try {
      const r = await fn();
      await clearStage(client);
      await client.query('RELEASE SAVEPOINT ledger_one');
      return r;
    } catch (e) {
      const reason =
        refusedForItsData(e) ??
        (refuseUnique && sqlState(e) === '23505'
          ? "the ledger cannot append this event: it conflicts with what is stored for its tenant's chain (SQLSTATE 23505); GET /v1/audit/verify"
          : null);
      if (reason === null) throw e;
      await client.query('ROLLBACK TO SAVEPOINT ledger_one');
      return { refusedReason: reason };
    }
  }

  return {
    async ingestBatch(batch) {
      const startedAt = performance.now();
      const key = `${batch.topic}\u0000${batch.partition}\u0000${batch.lastOffset}`;
      let r;
      try {
        r = await attempt(batch, false);
      } catch (e) {
        let reason = refusedForItsData(e);
        let refuseUnique = false;
        if (reason === null && sqlState(e) === '23505') {
          const n = (uniqueFailures.get(key) ?? 0) + 1;
          if (uniqueFailures.size > 1000) uniqueFailures.clear(); // batches whose partition moved away
          uniqueFailures.set(key, n);
          if (n >= UNIQUE_RETRIES) {
            reason = `the batch failed ${n} times with a unique violation (SQLSTATE 23505)`;
            refuseUnique = true;
          }
        }
        if (reason === null) throw e;
        deps.logger.warn(
          { topic: batch.topic, partition: batch.partition, reason },
          'the database refused a message of this batch; retrying one event at a time to dead-letter it',
        );
        r = await attempt(batch, { refuseUnique });
      }
      uniqueFailures.delete(key);
      // Counted once committed: a rolled-back attempt is retried and would count twice.
      stats.duplicates += r.skipped;
      stats.conflicts += r.conflicts;
      stats.refused += r.refused;
      // Refused events are counted by the bus's dead-letter metric (reason PROCESSING_FAILED).
      deps.metrics.appended(r.appended.length, r.skipped, r.conflicts, (performance.now() - startedAt) / 1000);
      stats.appended += r.appended.length;
      stats.batches += 1;
      if (r.appended.length > 0) {
        deps.logger.debug(
          { topic: batch.topic, partition: batch.partition, appended: r.appended.length },
          'ledger appended',
        );
      }
      return r.appended;
    },
    stats: () => ({ ...stats }),
  };
}
