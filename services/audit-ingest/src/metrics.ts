// What an SRE and a compliance officer watch on the ledger: is it growing (append rate), is it
// intact (the last verification), is it being sealed (signed checkpoints). Never per tenant: a
// tenant id in a label would leak who uses the platform into every metrics store downstream; a
// failed verification is found per tenant in the audit log itself (`audit.chain.verified`).
import { counter, histogram, observableGauge, type GaugeRegistration } from '@flow8/telemetry';

const appended = counter('flow8_audit_ledger_appended', {
  description: 'Entries appended to the hash-chained ledger',
  unit: '{entry}',
});
const duplicates = counter('flow8_audit_ledger_duplicates', {
  description: 'Redelivered events skipped because the ledger already holds them',
  unit: '{event}',
});
const conflicts = counter('flow8_audit_ledger_conflicts', {
  description: 'Events dead-lettered because their id is already recorded for another tenant',
  unit: '{event}',
});
const appendDuration = histogram('flow8_audit_ledger_append_duration_seconds', {
  description: 'Time of one ingest transaction (a partition batch: rows, chain heads and offsets), in seconds',
  unit: 's',
});
const verifications = counter('flow8_audit_verifications', {
  description: 'Online chain verifications, by result (ok, failed)',
  unit: '{verification}',
  labels: ['result'],
});
const checkpointsSigned = counter('flow8_audit_checkpoints_signed', {
  description: 'Signed checkpoints written, by trigger (scheduled, on_demand)',
  unit: '{checkpoint}',
  labels: ['trigger'],
});
const checkpointRoundFailures = counter('flow8_audit_checkpoint_round_failures', {
  description: 'Scheduled checkpoint rounds that failed (the reason is in the log)',
  unit: '{round}',
});

export type CheckpointTrigger = 'scheduled' | 'on_demand';

export interface AuditMetrics {
  appended(entries: number, duplicates: number, conflicts: number, seconds: number): void;
  verified(ok: boolean): void;
  checkpointsSigned(trigger: CheckpointTrigger, count: number): void;
  checkpointRoundFailed(): void;
  /** Starts reporting the gauges (last verification, last checkpoint). */
  start(): void;
  stop(): void;
}

export function createAuditMetrics(now: () => number = Date.now): AuditMetrics {
  let lastVerification: { ok: boolean; at: number } | null = null;
  let lastFailureAt: number | null = null;
  let lastCheckpointAt: number | null = null;
  let gauges: GaugeRegistration[] = [];
  const seconds = (ms: number) => ms / 1000;

  return {
    appended(entries, dups, confl, duration) {
      if (entries > 0) appended.add(entries);
      if (dups > 0) duplicates.add(dups);
      if (confl > 0) conflicts.add(confl);
      appendDuration.record(duration);
    },
    verified(ok) {
      lastVerification = { ok, at: now() };
      if (!ok) lastFailureAt = lastVerification.at;
      verifications.add(1, { result: ok ? 'ok' : 'failed' });
    },
    checkpointsSigned(trigger, count) {
      if (count <= 0) return;
      checkpointsSigned.add(count, { trigger });
      lastCheckpointAt = now();
    },
    checkpointRoundFailed() {
      checkpointRoundFailures.add(1);
    },
    start() {
      if (gauges.length > 0) return;
      // Absent until the first event of their kind since start: "no sample" is not "0 = failed".
      gauges = [
        observableGauge(
          'flow8_audit_verification_last_result',
          { description: 'Result of the last online verification in this process: 1 ok, 0 failed' },
          () => (lastVerification ? [[lastVerification.ok ? 1 : 0]] : []),
        ),
        observableGauge(
          'flow8_audit_verification_last_timestamp_seconds',
          { description: 'Unix time of the last online verification in this process', unit: 's' },
          () => (lastVerification ? [[seconds(lastVerification.at)]] : []),
        ),
        observableGauge(
          'flow8_audit_verification_last_failure_timestamp_seconds',
          { description: 'Unix time of the last online verification that found the chain broken', unit: 's' },
          () => (lastFailureAt === null ? [] : [[seconds(lastFailureAt)]]),
        ),
        observableGauge(
          'flow8_audit_checkpoint_last_timestamp_seconds',
          { description: 'Unix time of the last signed checkpoint written by this process', unit: 's' },
          () => (lastCheckpointAt === null ? [] : [[seconds(lastCheckpointAt)]]),
        ),
      ];
    },
    stop() {
      for (const g of gauges) g.remove();
      gauges = [];
    },
  };
}
