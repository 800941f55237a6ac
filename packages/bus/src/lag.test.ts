import { oldestUnconsumedAgeMs, partitionLag } from './lag';

describe('partitionLag', () => {
  const base = { high: 100n, low: 0n, committed: null, processed: null, fromBeginning: true };

  it('is what lies between the next offset to consume and the high watermark', () => {
    expect(partitionLag({ ...base, committed: 60n })).toBe(40n);
    expect(partitionLag({ ...base, committed: 100n })).toBe(0n);
  });

  it('uses what this process handled when it is ahead of the committed offset', () => {
    expect(partitionLag({ ...base, committed: 60n, processed: 90n })).toBe(10n);
    // A stale in-process offset (the partition moved away and back) never hides a newer commit.
    expect(partitionLag({ ...base, committed: 95n, processed: 90n })).toBe(5n);
  });

  it('without any offset, counts from the log start (fromBeginning) or reports nothing to do', () => {
    expect(partitionLag({ ...base, low: 20n })).toBe(80n);
    expect(partitionLag({ ...base, fromBeginning: false })).toBe(0n);
  });

  it('never counts messages retention already removed, and is never negative', () => {
    expect(partitionLag({ ...base, low: 70n, committed: 10n })).toBe(30n);
    expect(partitionLag({ ...base, committed: 120n })).toBe(0n);
  });
});

describe('oldestUnconsumedAgeMs', () => {
  // A fake partition log: message i was written at times[i]; ListOffsets by timestamp answers the
  // first offset whose timestamp is >= ts, or the end offset.
  const log = (times: number[]) => async (ts: number) => {
    const i = times.findIndex((t) => t >= ts);
    return new Map([[0, BigInt(i === -1 ? times.length : i)]]);
  };
  const now = Date.UTC(2026, 0, 10);
  const minutesAgo = (m: number) => now - m * 60_000;

  it('is the age of the message at the next offset to consume, within 1 %', async () => {
    const times = [minutesAgo(600), minutesAgo(90), minutesAgo(30), minutesAgo(1)];
    const age = await oldestUnconsumedAgeMs({ now, next: new Map([[0, 1n]]), offsetsAt: log(times) });
    expect(Math.abs(age - 90 * 60_000) / (90 * 60_000)).toBeLessThan(0.01);
    const older = await oldestUnconsumedAgeMs({ now, next: new Map([[0, 0n]]), offsetsAt: log(times) });
    expect(Math.abs(older - 600 * 60_000) / (600 * 60_000)).toBeLessThan(0.01);
  });

  it('is 0 when nothing lags or the waiting message is under a second old', async () => {
    expect(await oldestUnconsumedAgeMs({ now, next: new Map(), offsetsAt: log([]) })).toBe(0);
    const fresh = await oldestUnconsumedAgeMs({ now, next: new Map([[0, 0n]]), offsetsAt: log([now - 200]) });
    expect(fresh).toBe(0);
  });

  it('takes the oldest over several partitions', async () => {
    const offsetsAt = async (ts: number) =>
      new Map([
        [0, BigInt([minutesAgo(5)].findIndex((t) => t >= ts) === -1 ? 1 : 0)],
        [1, BigInt([minutesAgo(120)].findIndex((t) => t >= ts) === -1 ? 1 : 0)],
      ]);
    const age = await oldestUnconsumedAgeMs({
      now,
      next: new Map([
        [0, 0n],
        [1, 0n],
      ]),
      offsetsAt,
    });
    expect(Math.abs(age - 120 * 60_000) / (120 * 60_000)).toBeLessThan(0.01);
  });
});
