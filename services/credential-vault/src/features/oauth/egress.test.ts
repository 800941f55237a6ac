import { assertEgressAllowed, egressRequest, isPrivateAddress } from './egress';
import { OAuthError } from './oauth.errors';

describe('egress policy for OAuth endpoints', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '::1',
    'fe80::1',
    'fd00::1',
    '::ffff:127.0.0.1',
    '0.0.0.0',
  ])('treats %s as private', (ip) => expect(isPrivateAddress(ip)).toBe(true));

  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111'])('treats %s as public', (ip) =>
    expect(isPrivateAddress(ip)).toBe(false),
  );

  it('refuses plain http', () => {
    expect(() => assertEgressAllowed(new URL('http://login.example.com/token'), {})).toThrow(
      expect.objectContaining({ code: 'EGRESS_REFUSED' }) as Error,
    );
  });

  it('refuses a private IP literal unless the host is allowlisted', () => {
    expect(() => assertEgressAllowed(new URL('https://169.254.169.254/latest'), {})).toThrow(OAuthError);
    expect(() => assertEgressAllowed(new URL('https://[::1]:8443/token'), {})).toThrow(OAuthError);
    expect(() =>
      assertEgressAllowed(new URL('https://127.0.0.1:8443/token'), { allowPrivateHosts: ['127.0.0.1'] }),
    ).not.toThrow();
  });

  it('refuses a host name that resolves to loopback before any byte is sent', async () => {
    await expect(egressRequest(new URL('https://localhost:9/token'), {}, { method: 'GET' })).rejects.toMatchObject({
      code: 'EGRESS_REFUSED',
    });
  });
});
