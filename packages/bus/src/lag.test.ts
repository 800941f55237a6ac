import { partitionLag } from './lag';

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
