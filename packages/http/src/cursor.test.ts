import { decodeCursor, decodeSeqCursor, encodeCursor, encodeSeqCursor, page } from './cursor';

const id = 'key_01m8nrq3pae00aekwk728ttwm4';
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const badRequest = expect.objectContaining({ code: 'BAD_REQUEST' }) as Error;

describe('the one cursor codec', () => {
  test('an id cursor round-trips and keeps its wire form ({a: id}, base64url JSON)', () => {
    expect(decodeCursor(encodeCursor(id), 'key')).toBe(id);
    expect(encodeCursor(id)).toBe(b64({ a: id }));
  });

  test('an id cursor of another kind of id, or an injection, is a 400', () => {
    expect(() => decodeCursor(encodeCursor(id), 'usr')).toThrow(badRequest);
    expect(() => decodeCursor(b64({ a: "key_x' OR 1=1" }), 'key')).toThrow(badRequest);
    expect(() => decodeCursor(b64({ s: 5 }), 'key')).toThrow(badRequest);
  });

  test('a sequence cursor round-trips and keeps its wire form ({s: seq})', () => {
    expect(decodeSeqCursor(encodeSeqCursor(42))).toBe(42);
    expect(encodeSeqCursor(42)).toBe(b64({ s: 42 }));
  });

  test('a sequence cursor must be a positive safe integer', () => {
    for (const s of [0, -1, 1.5, 2 ** 53, '7', null]) expect(() => decodeSeqCursor(b64({ s }))).toThrow(badRequest);
    expect(() => decodeSeqCursor(b64({ a: id }))).toThrow(badRequest);
  });

  test('garbage is a 400, never a crash', () => {
    for (const junk of ['%%%', '', b64(null), b64([1]), b64('x'), 'e30']) {
      expect(() => decodeCursor(junk, 'key')).toThrow(badRequest);
      expect(() => decodeSeqCursor(junk)).toThrow(badRequest);
    }
  });

  test('page() slices limit + 1 rows into items and the cursor after the last item', () => {
    const rows = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
    expect(page(rows, 2, (r) => r.id)).toEqual({ items: ['a', 'b'], nextCursor: encodeCursor('b') });
    expect(page(rows, 3, (r) => r.id)).toEqual({ items: ['a', 'b', 'c'], nextCursor: null });
  });
});
