import { decodeCursor, encodeCursor, normaliseEmail, prepareUser } from './users.service';

describe('users service helpers', () => {
  test('cursors round-trip and a forged one is a 400, not a crash', () => {
    const id = 'usr_01jabcdefghjkmnpqrstvwxyz0';
    expect(decodeCursor(encodeCursor(id), 'usr')).toBe(id);
    expect(() => decodeCursor(Buffer.from(JSON.stringify({ a: "x' OR 1=1" })).toString('base64url'), 'usr')).toThrow(
      expect.objectContaining({ code: 'BAD_REQUEST' }) as Error,
    );
    expect(() => decodeCursor('%%%', 'usr')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }) as Error);
  });

  test('e-mail addresses are stored lower-cased and trimmed', () => {
    expect(normaliseEmail('  Jane.Doe@Acme.TEST ')).toBe('jane.doe@acme.test');
  });

  test('a weak password is refused before anything is hashed, and the message does not echo it', async () => {
    let hashed = 0;
    const hasher = { hash: async () => `h${++hashed}` };
    await expect(
      prepareUser(hasher, { email: 'a@b.test', password: 'short-one', role: 'viewer' }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.not.stringContaining('short-one') as string,
    });
    expect(hashed).toBe(0);
    const ok = await prepareUser(hasher, {
      email: 'Jane@B.test',
      password: 'violet-tractor-97-harbour',
      role: 'viewer',
    });
    expect(ok).toMatchObject({ email: 'jane@b.test', role: 'viewer', passwordHash: 'h1' });
    expect(ok.id).toMatch(/^usr_[0-9a-z]{26}$/);
  });
});
