import { canonicalBytes, canonicalize, CanonicalizationError, iJsonProblem } from './canonical';

describe('canonicalize (RFC 8785)', () => {
  it('reproduces the RFC 8785 §3.2.2 example byte for byte', () => {
    const input = JSON.parse(String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`) as unknown;
    expect(canonicalize(input)).toBe(
      String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
    );
  });

  it('sorts keys by UTF-16 code units, including non-ASCII and astral keys (RFC 8785 §3.2.3)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // The RFC's expected order: \r, 1, U+0080, ö, €, 😀 (a surrogate pair, so below U+FB33), דּ.
    expect(canonicalize(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it.each([
    [0, '0'],
    [-0, '0'],
    [1e21, '1e+21'],
    [999999999999999700000, '999999999999999700000'],
    [0.000001, '0.000001'],
    [1e-7, '1e-7'],
    [5e-324, '5e-324'],
    [Number.MAX_VALUE, '1.7976931348623157e+308'],
    [9007199254740992, '9007199254740992'],
    [-1.5, '-1.5'],
    [1e30, '1e+30'],
  ])('formats the number %p as %s', (n, expected) => {
    expect(canonicalize(n)).toBe(expected);
  });

  it('nests, drops whitespace and omits object properties whose value is undefined', () => {
    expect(canonicalize({ b: [1, { d: 'x', c: null }], a: true, z: undefined })).toBe(
      '{"a":true,"b":[1,{"c":null,"d":"x"}]}',
    );
  });

  it('encodes the canonical text as UTF-8', () => {
    expect(Array.from(canonicalBytes({ e: '€' }))).toEqual([
      0x7b, 0x22, 0x65, 0x22, 0x3a, 0x22, 0xe2, 0x82, 0xac, 0x22, 0x7d,
    ]);
  });

  it.each([
    ['NaN', { a: NaN }, /\$\.a: number NaN is not finite/],
    ['Infinity', [Infinity], /\$\[0\]: number Infinity is not finite/],
    ['undefined in an array', [1, undefined], /\$\[1\]: undefined is not JSON/],
    ['an array hole', [1, , 3], /\$\[1\]: undefined is not JSON/], // eslint-disable-line no-sparse-arrays
    ['top-level undefined', undefined, /undefined is not JSON/],
    ['a function', { f: () => 1 }, /\$\.f: a function is not JSON/],
    ['a bigint', { n: 10n }, /bigint/],
    ['a symbol', { s: Symbol('x') }, /symbol/],
    ['a Date', { d: new Date(0) }, /a Date is not a plain object/],
    ['a lone surrogate', { s: 'a\ud800b' }, /lone UTF-16 surrogate/],
    ['a lone surrogate key', { ['\udc00']: 1 }, /property name contains a lone/],
  ])('refuses %s with a clear error', (_label, value, message) => {
    expect(() => canonicalize(value)).toThrow(CanonicalizationError);
    expect(() => canonicalize(value)).toThrow(message);
    // The checker without serialising agrees, with the same reason (and never the text itself).
    expect(iJsonProblem(value)).toMatch(message);
  });

  it('iJsonProblem accepts what canonicalize accepts, including what JSON.parse gives', () => {
    for (const v of [{ a: [1, 'x', null, true, { b: -0 }], c: undefined }, JSON.parse('{"k":"\\u00e9"}'), 'x', 0]) {
      expect(() => canonicalize(v)).not.toThrow();
      expect(iJsonProblem(v)).toBeNull();
    }
    // JSON.parse happily yields what the ledger cannot hash: a lone surrogate, an infinite number.
    expect(iJsonProblem(JSON.parse('{"purpose":"a\\ud800"}'))).toMatch(/\$\.purpose: string contains a lone/);
    expect(iJsonProblem(JSON.parse('{"n":1e400}'))).toMatch(/\$\.n: number Infinity is not finite/);
  });

  it('refuses circular structures but allows shared (non-circular) references', () => {
    const shared = { x: 1 };
    expect(canonicalize({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => canonicalize(loop)).toThrow(/circular reference/);
  });
});
