import { ready } from '@flow8/crypto';
import { appendEntries, entryFields } from './testing/chain-fixture';
import { csvCell, csvEntryRow, csvHeader } from './export';

beforeAll(async () => {
  await ready();
});

describe('CSV export', () => {
  it('has the documented columns', () => {
    expect(csvHeader()).toBe(
      'seq,recordedAt,occurredAt,type,actorType,actorId,actorIp,resourceType,resourceId,purpose,eventId,prevHash,hash',
    );
  });

  it('writes one row per entry with empty cells for nulls', () => {
    const [row] = appendEntries([entryFields('ten_a', 1)]);
    const cells = csvEntryRow(row!).split(',');
    expect(cells).toHaveLength(13);
    expect(cells.slice(0, 10)).toEqual([
      '1',
      '2026-11-30T07:50:01.001Z',
      '2026-11-30T07:50:00.001Z',
      'identity.user.created',
      'user',
      'usr_01J0000000000000000000ADMN',
      '203.0.113.7',
      'user',
      'usr_1',
      '',
    ]);
    expect(cells[11]).toBe('0'.repeat(64));
  });

  it.each([
    ['=HYPERLINK("http://evil.example","x")', `"'=HYPERLINK(""http://evil.example"",""x"")"`],
    ['+1+1', "'+1+1"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tcmd', "'\tcmd"],
    ['\rcmd', `"'\rcmd"`],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['line\nbreak', '"line\nbreak"'],
    ['plain', 'plain'],
  ])('neutralises and quotes %j', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it('guards hostile event fields in a real row', () => {
    const f = { ...entryFields('ten_a', 1), type: '=cmd|" /C calc"!A0', purpose: 'billing, audit' };
    const [row] = appendEntries([f]);
    const line = csvEntryRow(row!);
    expect(line).toContain(`"'=cmd|"" /C calc""!A0"`);
    expect(line).toContain('"billing, audit"');
  });
});
