import { cidrListOrThrow } from '@flow8/http';
import { clientIp } from './client-ip';

describe('clientIp', () => {
  const trusted = cidrListOrThrow('t', ['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);

  it('ignores X-Forwarded-For from an untrusted peer', () => {
    expect(clientIp('198.51.100.7', '203.0.113.9', trusted)).toBe('198.51.100.7');
    expect(clientIp('198.51.100.7', '203.0.113.9', null)).toBe('198.51.100.7');
  });

  it('takes the right-most untrusted hop from a trusted peer', () => {
    expect(clientIp('127.0.0.1', '1.1.1.1, 203.0.113.9, 10.1.2.3', trusted)).toBe('203.0.113.9');
    expect(clientIp('::ffff:127.0.0.1', '2001:db8::5', trusted)).toBe('2001:db8::5');
    expect(clientIp('fd00::1', ['203.0.113.1', '10.0.0.2'], trusted)).toBe('203.0.113.1');
  });

  it('falls back to the last good hop when a hop is not an address', () => {
    expect(clientIp('127.0.0.1', 'evil, 10.0.0.9', trusted)).toBe('10.0.0.9');
    expect(clientIp('127.0.0.1', 'evil', trusted)).toBe('127.0.0.1');
  });

  it('uses the socket address when the header is missing', () => {
    expect(clientIp('::ffff:10.1.1.1', undefined, trusted)).toBe('10.1.1.1');
  });
});
