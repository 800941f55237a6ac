import { fromBase64, fromHex, toBase64, toHex } from './encoding';
import { constantTimeEqual, sha256 } from './hash';

describe('hex', () => {
  it('round-trips and accepts either case', () => {
    const bytes = new Uint8Array([0, 1, 0xab, 0xff]);
    expect(toHex(bytes)).toBe('0001abff');
    expect(fromHex('0001abff')).toEqual(bytes);
    expect(fromHex('0001ABFF')).toEqual(bytes);
    expect(fromHex('')).toEqual(new Uint8Array(0));
  });

  it.each(['abc', 'zz', '0x00', 'ab cd', 'ab\n', 'g0'])('refuses %p', (bad) => {
    expect(() => fromHex(bad)).toThrow(/invalid hex/);
  });
});

describe('base64', () => {
  it('round-trips standard padded base64', () => {
    const bytes = new Uint8Array([0xfb, 0xff, 0xbf, 0x00, 0x01]);
    expect(toBase64(bytes)).toBe('+/+/AAE=');
    expect(fromBase64('+/+/AAE=')).toEqual(bytes);
    expect(fromBase64('')).toEqual(new Uint8Array(0));
  });

  it.each([
    ['missing padding', 'AAE'],
    ['URL-safe alphabet', '-_-_AAE='],
    ['whitespace', 'AA E='],
    ['trailing newline', 'AAE=\n'],
    ['non-zero padding bits', 'AAF='],
    ['stray character', 'AA*='],
    ['too much padding', 'AA==='],
  ])('refuses %s', (_label, bad) => {
    expect(() => fromBase64(bad)).toThrow(/invalid base64/);
  });
});

describe('sha256 and constantTimeEqual', () => {
  it('hashes the concatenation of its parts (FIPS 180-2 "abc" vector)', () => {
    const abc = new TextEncoder().encode('abc');
    const expected = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(toHex(sha256(abc))).toBe(expected);
    expect(toHex(sha256(abc.subarray(0, 1), abc.subarray(1)))).toBe(expected);
  });

  it('compares contents, and different lengths are unequal', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
  });
});
