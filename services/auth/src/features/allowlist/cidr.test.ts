import { parseCidr, parseCidrList } from './cidr';

describe('parseCidr', () => {
  test.each([
    ['203.0.113.0/24', '203.0.113.0/24'],
    ['203.0.113.7/32', '203.0.113.7/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:DB8::/32', '2001:db8::/32'],
    ['2001:0db8:0000:0000:0000:0000:0000:0000/48', '2001:db8::/48'],
    ['2001:db8:0:0:1:0:0:0/80', '2001:db8:0:0:1::/80'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['::1/128', '::1/128'],
    ['::/0', '::/0'],
    ['::ffff:192.0.2.0/120', '::ffff:c000:200/120'],
  ])('accepts %s as %s', (input, canonical) => {
    expect(parseCidr(input)).toEqual({ ok: true, cidr: canonical });
  });

  test.each([
    ['203.0.113.7', /no prefix length/],
    ['10.0.0.1/8', /host bits/],
    ['256.0.0.0/8', /not an IPv4/],
    ['010.0.0.0/8', /not an IPv4 or IPv6/],
    ['10.0.0.0/33', /above 32/],
    ['10.0.0.0/08', /not an IPv4 or IPv6/],
    ['10.0.0/8', /not an IPv4 or IPv6/],
    ['2001:db8::1/64', /host bits/],
    ['2001:db8::/129', /0-128/],
    ['fe80::%eth0/64', /not an IPv6/],
    ['2001:db8:::/48', /not an IPv6/],
    ['example.com/24', /not an IPv4 or IPv6/],
    [' 10.0.0.0/8', /not an IPv4 or IPv6/],
    ['', /no prefix length/],
  ])('refuses %j', (input, reason) => {
    const r = parseCidr(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});

test('a list is canonicalised and de-duplicated, and every problem is reported', () => {
  expect(parseCidrList(['2001:DB8::/32', '2001:db8:0::/32', '10.0.0.0/8'])).toEqual({
    ok: true,
    cidrs: ['2001:db8::/32', '10.0.0.0/8'],
  });
  const bad = parseCidrList(['10.0.0.1/8', 'nope', '10.0.0.0/8']);
  expect(bad.ok).toBe(false);
  if (!bad.ok) expect(bad.problems).toHaveLength(2);
});
