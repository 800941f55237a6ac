import { codeChallengeS256, generateCodeVerifier, generateState, stateKey } from './pkce';

describe('PKCE S256', () => {
  it('matches the RFC 7636 appendix B test vector', () => {
    expect(codeChallengeS256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('generates verifiers the RFC accepts, each different', () => {
    const a = generateCodeVerifier();
    const b = generateCodeVerifier();
    expect(a).toMatch(/^[A-Za-z0-9\-._~]{43,128}$/);
    expect(a).not.toBe(b);
    expect(() => codeChallengeS256(a)).not.toThrow();
  });

  it('refuses a verifier that is too short or uses other characters', () => {
    expect(() => codeChallengeS256('short')).toThrow(RangeError);
    expect(() => codeChallengeS256(`${'a'.repeat(43)} `)).toThrow(RangeError);
  });

  it('states are 256-bit random and stored only as their hash', () => {
    const s = generateState();
    expect(Buffer.from(s, 'base64url')).toHaveLength(32);
    expect(stateKey(s)).toMatch(/^[0-9a-f]{64}$/);
    expect(stateKey(s)).not.toContain(s);
  });
});
