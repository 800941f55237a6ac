import { checkCidr } from './cidr';

describe('checkCidr', () => {
  test.each([
    '0.0.0.0/0',
    '10.0.0.0/8',
    '203.0.113.7/32',
    '::/0',
    '2001:db8::/32',
    '2001:DB8:0:0::/64',
    '::ffff:10.0.0.0/104',
    'fe80::1/128',
  ])('accepts %s', (c) => expect(checkCidr(c)).toMatchObject({ ok: true }));
  test.each([
    ['10.0.0.1/8', /bits set/],
    ['2001:db8::1/32', /bits set/],
    ['10.0.0.0/33', /at most 32/],
    ['::/129', /at most 128/],
    ['10.0.0.0', /prefix length/],
    ['10.0.0.0/08', /prefix length/],
    ['010.0.0.0/8', /not a valid/],
    ['256.0.0.0/8', /not a valid/],
    ['fe80::1%eth0/64', /prefix length/],
    [' 10.0.0.0/8', /prefix length/],
    ['1:2:3:4:5:6:7:8:9/64', /not a valid/],
    ['example.com/24', /prefix length/],
  ])('refuses %s', (c, reason) => {
    const r = checkCidr(c);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});
