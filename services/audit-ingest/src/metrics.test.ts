import { startMetrics, type MetricsHandle } from '@flow8/telemetry';
import { createAuditMetrics } from './metrics';

const value = (text: string, series: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(`${series}{`) || l.startsWith(`${series} `))
    .map((l) => Number(l.split(' ').pop()));

describe('audit metrics', () => {
  let metrics: MetricsHandle;
  beforeEach(() => {
    metrics = startMetrics({ serviceName: 'audit-test' });
  });
  afterEach(() => metrics.shutdown());

  it('reports no verification result before the first one, then the latest, and when it last failed', async () => {
    let now = 1_700_000_000_000;
    const m = createAuditMetrics(() => now);
    m.start();
    try {
      expect(value(await metrics.scrape(), 'flow8_audit_verification_last_result')).toEqual([]);
      m.verified(false);
      now += 60_000;
      m.verified(true);
      const text = await metrics.scrape();
      expect(value(text, 'flow8_audit_verification_last_result')).toEqual([1]);
      expect(value(text, 'flow8_audit_verification_last_timestamp_seconds')).toEqual([1_700_000_060]);
      expect(value(text, 'flow8_audit_verification_last_failure_timestamp_seconds')).toEqual([1_700_000_000]);
    } finally {
      m.stop();
    }
    expect(value(await metrics.scrape(), 'flow8_audit_verification_last_result')).toEqual([]);
  });

  it('counts appended entries, skips and checkpoints by trigger', async () => {
    const m = createAuditMetrics();
    m.appended(5, 2, 1, 0.01);
    m.appended(0, 0, 0, 0.002);
    m.checkpointsSigned('scheduled', 3);
    m.checkpointsSigned('on_demand', 0);
    const text = await metrics.scrape();
    expect(value(text, 'flow8_audit_ledger_appended_total')).toEqual([5]);
    expect(value(text, 'flow8_audit_ledger_duplicates_total')).toEqual([2]);
    expect(value(text, 'flow8_audit_ledger_conflicts_total')).toEqual([1]);
    expect(value(text, 'flow8_audit_ledger_append_duration_seconds_count')).toEqual([2]);
    expect(text).toContain('flow8_audit_checkpoints_signed_total{trigger="scheduled",service_name="audit-test"} 3');
    expect(text).not.toContain('trigger="on_demand"');
  });
});
