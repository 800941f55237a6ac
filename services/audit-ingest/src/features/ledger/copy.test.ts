import { BinaryCopyWriter } from './copy';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

describe('BinaryCopyWriter', () => {
  test('writes the binary COPY header, length-prefixed fields and the trailer', () => {
    const w = new BinaryCopyWriter(16);
    w.row(4)
      .text('é😀')
      .int8(2 ** 40 + 5)
      .uuid('0193A3B4-5c6d-7e8f-9a0b-1c2d3e4f5a6b')
      .bytes(new Uint8Array([0, 255]));
    const out = w.finish();
    expect(out.subarray(0, 11)).toEqual(SIGNATURE);
    expect(out.readInt32BE(11)).toBe(0); // flags
    expect(out.readInt32BE(15)).toBe(0); // header extension
    let at = 19;
    expect(out.readInt16BE(at)).toBe(4);
    at += 2;
    const text = Buffer.from('é😀', 'utf8');
    expect(out.readInt32BE(at)).toBe(text.length);
    expect(out.subarray(at + 4, at + 4 + text.length)).toEqual(text);
    at += 4 + text.length;
    expect(out.readInt32BE(at)).toBe(8);
    expect(out.readBigInt64BE(at + 4)).toBe(2n ** 40n + 5n);
    at += 12;
    expect(out.readInt32BE(at)).toBe(16);
    expect(out.subarray(at + 4, at + 20).toString('hex')).toBe('0193a3b45c6d7e8f9a0b1c2d3e4f5a6b');
    at += 20;
    expect(out.readInt32BE(at)).toBe(2);
    expect([...out.subarray(at + 4, at + 6)]).toEqual([0, 255]);
    at += 6;
    expect(out.readInt16BE(at)).toBe(-1);
    expect(out.length).toBe(at + 2);
    expect(w.rows).toBe(1);
  });

  test('grows past its first guess without losing bytes', () => {
    const w = new BinaryCopyWriter(1);
    const big = new Uint8Array(100_000).map((_, i) => i % 251);
    for (let i = 0; i < 5; i += 1) w.row(1).bytes(big);
    const out = w.finish();
    expect(out.length).toBe(19 + 5 * (2 + 4 + big.length) + 2);
    const last = out.subarray(19 + 4 * (6 + big.length) + 6, out.length - 2);
    expect(Buffer.compare(last, Buffer.from(big))).toBe(0);
  });

  test('a reused buffer sends nothing of the batch it held before', () => {
    const first = new BinaryCopyWriter(64 * 1024);
    first.row(1).text('ten_a secret of tenant a'.repeat(100));
    first.finish();
    first.release();
    const second = new BinaryCopyWriter(64 * 1024);
    const out = second.row(1).text('b').finish();
    expect(out.length).toBe(19 + 2 + 4 + 1 + 2);
    expect(out.toString('latin1')).not.toContain('secret');
    second.release();
  });

  test('refuses values the column types cannot hold', () => {
    const w = new BinaryCopyWriter();
    expect(() => w.uuid('not-a-uuid')).toThrow(RangeError);
    expect(() => w.int8(2 ** 53)).toThrow(RangeError);
    w.release();
  });
});
