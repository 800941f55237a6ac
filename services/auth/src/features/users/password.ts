// The password policy and hashing. Messages name the rule that failed, never the password.
import bcrypt from 'bcryptjs';

export const MIN_PASSWORD_LENGTH = 12;
/** bcrypt reads at most 72 bytes; a longer password would be silently truncated, so it is refused. */
export const MAX_PASSWORD_BYTES = 72;

/**
 * Whole passwords that meet the length rule yet top every breach list. Checked case-insensitively.
 * Deliberately small: a breached-password service is the real fix (see README, what's left).
 */
const COMMON_PASSWORDS = new Set([
  '123456789012',
  '1234567890123',
  '12345678901234',
  '111111111111',
  '000000000000',
  '1q2w3e4r5t6y',
  '1qaz2wsx3edc',
  'qwertyuiop12',
  'qwertyuiop123',
  'qwerty123456',
  'asdfghjkl123',
  'zaq12wsxcde3',
  'password1234',
  'password12345',
  'password123!',
  'passw0rd1234',
  'p@ssw0rd1234',
  'passwordpassword',
  'iloveyou1234',
  'welcome12345',
  'welcome@1234',
  'letmein12345',
  'changeme1234',
  'changemenow!',
  'administrator',
  'administrator1',
  'trustno1trustno1',
  'correcthorsebatterystaple',
  'correct horse battery staple',
]);

/**
 * Words that, with only digits and symbols around them, make a guessable password
 * (`Password2024!`, `Welcome#123456`, `Admin123456789`).
 */
const COMMON_WORDS = new Set([
  'password',
  'passw',
  'pass',
  'qwerty',
  'qwertyuiop',
  'asdf',
  'asdfghjkl',
  'letmein',
  'welcome',
  'admin',
  'administrator',
  'iloveyou',
  'changeme',
  'monkey',
  'dragon',
  'football',
  'baseball',
  'sunshine',
  'princess',
  'trustno',
  'secret',
  'abc',
  'abcdef',
  'flow',
]);

export type PasswordCheck = { ok: true } | { ok: false; reason: string };

export function checkPassword(password: string, email: string): PasswordCheck {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    return { ok: false, reason: `password must be at least ${MIN_PASSWORD_LENGTH} characters long` };
  }
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    return { ok: false, reason: `password must be at most ${MAX_PASSWORD_BYTES} bytes long` };
  }
  const lower = password.toLowerCase();
  const local = (email.split('@')[0] ?? '').toLowerCase();
  // A one- or two-letter local part would forbid half the alphabet; from three on it is a real hint.
  if (local.length >= 3 && lower.includes(local)) {
    return { ok: false, reason: "password must not contain the e-mail address's name part" };
  }
  const letters = lower.replace(/[^a-z]/g, '');
  if (COMMON_PASSWORDS.has(lower) || COMMON_WORDS.has(letters)) {
    return { ok: false, reason: 'password is too common; choose a longer, less predictable one' };
  }
  if (new Set(password).size < 5) {
    return { ok: false, reason: 'password repeats too few characters; choose a less predictable one' };
  }
  return { ok: true };
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
}

export function createPasswordHasher(cost: number): PasswordHasher {
  if (!Number.isInteger(cost) || cost < 10 || cost > 15)
    throw new Error('bcrypt cost must be an integer between 10 and 15');
  return {
    hash: (password) => bcrypt.hash(password, cost),
    verify: (password, hash) => bcrypt.compare(password, hash),
  };
}
