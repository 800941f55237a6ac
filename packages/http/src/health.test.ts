import { captureLogs } from './__fixtures__/logs';
import { READINESS_TIMEOUT_MS, runReadiness } from './health';

describe('runReadiness', () => {
  it('uses a 2 s budget per check by default', () => {
    expect(READINESS_TIMEOUT_MS).toBe(2000);
  });

  it('fails a check that hangs once the timeout passes, without waiting for it', async () => {
    const logs = captureLogs();
    const started = Date.now();
    const result = await runReadiness(
      { kafka: () => new Promise<void>(() => {}), postgres: async () => {} },
      logs.logger,
      50,
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result).toEqual({ ready: false, checks: { kafka: 'fail', postgres: 'ok' } });
    expect(logs.text()).toContain('timed out after 50 ms');
  });

  it('fails a check that throws synchronously instead of rejecting', async () => {
    const result = await runReadiness(
      {
        redis: () => {
          throw new Error('not connected');
        },
      },
      captureLogs().logger,
    );
    expect(result).toEqual({ ready: false, checks: { redis: 'fail' } });
  });

  it('is ready with no checks at all', async () => {
    expect(await runReadiness({}, captureLogs().logger)).toEqual({ ready: true, checks: {} });
  });
});
