import { checkPassword, createPasswordHasher } from './password';

describe('password policy', () => {
  const email = 'jane.doe@acme.test';

  test('accepts a long, unpredictable password', () => {
    expect(checkPassword('violet-tractor-97-harbour', email)).toEqual({ ok: true });
  });

  test.each([
    ['too short', 'Xk9!vT2#qL', /at least 12 characters/],
    ['the e-mail name part, in any case', 'my-JANE.DOE-secret-42', /e-mail address's name part/],
    ['a listed common password', 'Password1234', /too common/],
    ['a common word padded with digits and symbols', 'Welcome#2024!!', /too common/],
    ['a keyboard walk', '1q2w3e4r5t6y', /too common/],
    ['too few distinct characters', 'abababababababab', /too few characters/],
    ['more than bcrypt reads (72 bytes)', 'ü'.repeat(40), /at most 72 bytes/],
  ])('refuses %s, without echoing it', (_label, pw, reason) => {
    const r = checkPassword(pw, email);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toMatch(reason);
    expect(r.reason).not.toContain(pw);
  });

  test('counts characters, not UTF-16 units, against the minimum', () => {
    const emoji = '😀😁😂🤣😃😄😅😆😉😊'; // 10 characters, 20 UTF-16 units
    expect(checkPassword(emoji + 'a', email).ok).toBe(false);
    expect(checkPassword(emoji + 'ab', email)).toEqual({ ok: true });
  });

  test('a one-letter local part does not forbid that letter', () => {
    expect(checkPassword('violet-tractor-97-harbour', 'a@acme.test')).toEqual({ ok: true });
  });
});

describe('password hasher', () => {
  test('hashes with bcrypt at the configured cost and verifies only the right password', async () => {
    const hasher = createPasswordHasher(10);
    const hash = await hasher.hash('violet-tractor-97-harbour');
    expect(hash).toMatch(/^\$2[aby]\$10\$[./A-Za-z0-9]{53}$/);
    expect(hash).not.toContain('violet');
    await expect(hasher.verify('violet-tractor-97-harbour', hash)).resolves.toBe(true);
    await expect(hasher.verify('violet-tractor-97-harbouR', hash)).resolves.toBe(false);
  });

  test('refuses a cost below 10', () => {
    expect(() => createPasswordHasher(9)).toThrow(/between 10 and 15/);
  });
});
