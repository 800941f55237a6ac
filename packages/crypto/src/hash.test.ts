import { constantTimeEqual, sameSecret } from './hash';

describe('the one constant-time compare', () => {
  test('constantTimeEqual: equal bytes only; a different length is simply unequal', () => {
    expect(constantTimeEqual(Buffer.from('abc'), Buffer.from('abc'))).toBe(true);
    expect(constantTimeEqual(Buffer.from('abc'), Buffer.from('abd'))).toBe(false);
    expect(constantTimeEqual(Buffer.from('abc'), Buffer.from('abcd'))).toBe(false);
  });

  test('sameSecret: any lengths, strings or bytes, never throws on a length mismatch', () => {
    expect(sameSecret('a'.repeat(40), 'a'.repeat(40))).toBe(true);
    expect(sameSecret('a'.repeat(40), 'a'.repeat(41))).toBe(false);
    expect(sameSecret('a'.repeat(40), 'b'.repeat(40))).toBe(false);
    expect(sameSecret('', 'x')).toBe(false);
    expect(sameSecret(Buffer.from('tok'), 'tok')).toBe(true);
  });
});
