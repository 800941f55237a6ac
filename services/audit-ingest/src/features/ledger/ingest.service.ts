// Exactly-once ingest: a partition batch's ledger rows and the partition's next offset commit
// in one Postgres transaction. Offsets below the stored one are skipped (redelivery), event ids
// already in the ledger are skipped (a relay that published twice), and the per-tenant head
// lock plus UNIQUE(tenant_id, seq) stop two consumers from forking a chain.
import type { PartitionBatch } from '@flow8/bus';
import type { AnyEvent } from '@flow8/contracts';
import { withTransaction, type Pool } from '@flow8/db';
import type { Logger } from '@flow8/telemetry';
import type { AuditMetrics } from '../../metrics';
import { appendEvents, lockOffset, storeOffset, type AppendedEntry } from './ledger.repo';

export interface IngestService {
  ingestBatch(
    batch: Pick<PartitionBatch, 'topic' | 'partition' | 'events' | 'lastOffset' | 'deadLetter'>,
  ): Promise<AppendedEntry[]>;
  stats(): { appended: number; duplicates: number; batches: number; conflicts: number };
}

export function createIngestService(deps: {
  pool: Pool;
  groupId: string;
  logger: Logger;
  metrics: Pick<AuditMetrics, 'appended'>;
  now?: () => Date;
}): IngestService {
  const now = deps.now ?? (() => new Date());
  const stats = { appended: 0, duplicates: 0, batches: 0, conflicts: 0 };
  return {
    async ingestBatch(batch) {
      const startedAt = performance.now();
      let skipped = 0;
      let conflicted = 0;
      const result = await withTransaction(deps.pool, async (client) => {
        const next = await lockOffset(client, deps.groupId, batch.topic, batch.partition);
        const pending = batch.events.filter((e) => BigInt(e.offset) >= next);
        const byTenant = new Map<string, AnyEvent[]>();
        for (const { event } of pending) {
          const list = byTenant.get(event.tenantId);
          if (list) list.push(event);
          else byTenant.set(event.tenantId, [event]);
        }
        // Millisecond UTC, stored verbatim inside the canonical bytes.
        const { appended, conflicts } = await appendEvents(client, byTenant, now().toISOString());
        // Before the offsets move past them (this transaction's commit), so they are never lost.
        for (const e of conflicts) {
          const offset = pending.find((p) => p.event === e)!.offset;
          await batch.deadLetter(offset, 'PROCESSING_FAILED', [
            `/id event id is already recorded in the ledger for a different tenant`,
          ]);
        }
        const last = BigInt(batch.lastOffset);
        if (last + 1n > next) await storeOffset(client, deps.groupId, batch.topic, batch.partition, last + 1n);
        skipped = pending.length - appended.length - conflicts.length;
        conflicted = conflicts.length;
        return appended;
      });
      // Counted once committed: a rolled-back attempt is retried and would count twice.
      stats.duplicates += skipped;
      stats.conflicts += conflicted;
      deps.metrics.appended(result.length, skipped, conflicted, (performance.now() - startedAt) / 1000);
      stats.appended += result.length;
      stats.batches += 1;
      if (result.length > 0) {
        deps.logger.debug(
          { topic: batch.topic, partition: batch.partition, appended: result.length },
          'ledger appended',
        );
      }
      return result;
    },
    stats: () => ({ ...stats }),
  };
}
