import { LedgerFormatError } from './errors';

// Small shape checks shared by the writer (fail before anything is hashed) and the decoder
// (fail on stored bytes that a v1 writer could not have produced).

export const HASH_HEX_RE = /^[0-9a-f]{64}$/;
export const KEY_ID_RE = /^[0-9a-f]{16}$/;
/** UTC, millisecond precision: what audit-ingest writes for recordedAt and signedAt. */
export const UTC_MILLIS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

export function requireString(obj: Record<string, unknown>, key: string, what: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.length === 0) {
    throw new LedgerFormatError(`${what}: "${key}" must be a non-empty string`);
  }
  return v;
}

export function requireNullableString(obj: Record<string, unknown>, key: string, what: string): string | null {
  const v = obj[key];
  if (v === null) return null;
  if (typeof v !== 'string') throw new LedgerFormatError(`${what}: "${key}" must be a string or null`);
  return v;
}

export function requireSeq(obj: Record<string, unknown>, key: string, what: string): number {
  const v = obj[key];
  if (!isSeq(v)) throw new LedgerFormatError(`${what}: "${key}" must be an integer >= 1`);
  return v;
}

export function requireMatch(
  obj: Record<string, unknown>,
  key: string,
  re: RegExp,
  what: string,
  expected: string,
): string {
  const v = obj[key];
  if (typeof v !== 'string' || !re.test(v)) {
    throw new LedgerFormatError(`${what}: "${key}" must be ${expected}`);
  }
  return v;
}

export function requireHash(bytes: Uint8Array, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength !== 32) {
    throw new LedgerFormatError(`${what} must be 32 bytes`);
  }
}

export function checkExactKeys(obj: Record<string, unknown>, keys: readonly string[], what: string): void {
  const extra = Object.keys(obj).filter((k) => !keys.includes(k));
  if (extra.length > 0) throw new LedgerFormatError(`${what}: unexpected field(s) ${extra.join(', ')}`);
}
