// The one CIDR parser. Cases gathered from the three parsers it replaces (auth's allowlist,
// auth's API-key networks, the gateway's configured lists), now under one rule.
import { cidrBlockList, cidrListOrThrow, ipIn, parseCidr, parseCidrList } from './cidr';

describe('parseCidr', () => {
  test.each([
    ['203.0.113.0/24', '203.0.113.0/24'],
    ['203.0.113.7/32', '203.0.113.7/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['2001:DB8::/32', '2001:db8::/32'],
    ['2001:DB8:0:0::/64', '2001:db8::/64'],
    ['2001:0db8:0000:0000:0000:0000:0000:0000/48', '2001:db8::/48'],
    ['2001:db8:0:0:1:0:0:0/80', '2001:db8:0:0:1::/80'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['::1/128', '::1/128'],
    ['fe80::1/128', 'fe80::1/128'],
    ['::/0', '::/0'],
    ['::ffff:192.0.2.0/120', '::ffff:c000:200/120'],
    ['::ffff:10.0.0.0/104', '::ffff:a00:0/104'],
  ])('accepts %s as %s', (input, canonical) => {
    expect(parseCidr(input)).toMatchObject({ ok: true, cidr: canonical });
  });

  test.each([
    ['203.0.113.7', /no prefix length/],
    ['', /no prefix length/],
    ['256.0.0.0/8', /not an IPv4 address/],
    ['300.0.0.0/8', /not an IPv4 address/],
    ['010.0.0.0/8', /not an IPv4 or IPv6 address/],
    ['10.0.0/8', /not an IPv4 or IPv6 address/],
    ['example.com/24', /not an IPv4 or IPv6 address/],
    [' 10.0.0.0/8', /not an IPv4 or IPv6 address/],
    ['x/8', /not an IPv4 or IPv6 address/],
    ['10.0.0.0/33', /above 32/],
    ['::/129', /above 128/],
    ['2001:db8::/129', /above 128/],
    ['10.0.0.0/08', /prefix length that is not 0-32/],
    ['10.0.0.0/8/1', /prefix length that is not 0-32/],
    ['10.0.0.0/ 8', /prefix length that is not 0-32/],
    ['fe80::%eth0/64', /not an IPv6 address/],
    ['fe80::1%eth0/64', /not an IPv6 address/],
    ['2001:db8:::/48', /not an IPv6 address/],
    ['1:2:3:4:5:6:7:8:9/64', /not an IPv6 address/],
    ['a'.repeat(50), /too long/],
  ])('refuses %j', (input, reason) => {
    const r = parseCidr(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  test('host bits: refused everywhere, naming the network that was probably meant', () => {
    for (const [input, meant] of [
      ['10.0.0.1/8', '10.0.0.0/8'],
      ['192.168.1.77/24', '192.168.1.0/24'],
      ['2001:db8::1/64', '2001:db8::/64'],
      ['2001:db8::1/32', '2001:db8::/32'],
    ] as const) {
      const r = parseCidr(input);
      expect(r).toEqual({
        ok: false,
        reason: `"${input}" has host bits set beyond its prefix length (the network is ${meant})`,
      });
      // Configured lists follow the same rule: a bare address is allowed there, host bits are not.
      expect(parseCidr(input, { bareAddress: true }).ok).toBe(false);
      expect(() => cidrListOrThrow('GATEWAY_TRUSTED_PROXIES', [input])).toThrow(
        /GATEWAY_TRUSTED_PROXIES: .*host bits set/,
      );
    }
  });

  test('a bare address is one host, only where the caller allows it', () => {
    expect(parseCidr('198.51.100.1', { bareAddress: true })).toMatchObject({ ok: true, cidr: '198.51.100.1/32' });
    expect(parseCidr('2001:DB8::5', { bareAddress: true })).toMatchObject({ ok: true, cidr: '2001:db8::5/128' });
    expect(parseCidr('198.51.100.1').ok).toBe(false);
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

describe('cidrBlockList / ipIn', () => {
  test('matches IPv4 and IPv6 subnets and hosts, and nothing that is not an address', () => {
    const r = cidrBlockList(['192.0.2.0/24', '2001:db8:1::/48', '198.51.100.1'], { bareAddress: true });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(ipIn(r.list, '192.0.2.200')).toBe(true);
    expect(ipIn(r.list, '192.0.3.1')).toBe(false);
    expect(ipIn(r.list, '2001:db8:1:ffff::1')).toBe(true);
    expect(ipIn(r.list, '2001:db8:2::1')).toBe(false);
    expect(ipIn(r.list, '198.51.100.1')).toBe(true);
    expect(ipIn(r.list, '::ffff:192.0.2.9')).toBe(true);
    expect(ipIn(r.list, 'not-an-ip')).toBe(false);
  });

  test('an IPv4-mapped network matches the IPv4 clients it names', () => {
    const r = cidrBlockList(['::ffff:10.0.0.0/104']);
    expect(r.ok && ipIn(r.list, '10.9.9.9')).toBe(true);
    expect(r.ok && ipIn(r.list, '11.0.0.1')).toBe(false);
  });

  test('a list with one bad entry is refused whole, naming it', () => {
    for (const bad of ['10.0.0.0/33', 'x/8', '10.0.0.0/8/1', '::/129', '', '10.0.0.1/8']) {
      expect(cidrBlockList(['192.0.2.0/24', bad], { bareAddress: true })).toMatchObject({ ok: false, bad });
    }
  });
});
