// Authenticated encryption for secrets at rest: XChaCha20-Poly1305 (libsodium) in a versioned,
// self-describing format, so a ciphertext always says which format and which key sealed it.
//
//   v1:  0x01 ‖ keyId (16 raw bytes) ‖ nonce (24) ‖ ciphertext ‖ tag (16)
//
// The header (version ‖ keyId) is authenticated together with the caller's associated data, so
// neither can be edited without the open failing. Changing the layout means a new version byte
// and a new case in the switches below, never an edit of v1.
import { toHex } from './encoding';
import { requireSodium } from './sodium';

export const AEAD_KEY_BYTES = 32;
export const AEAD_KEY_ID_BYTES = 16;
export const AEAD_NONCE_BYTES = 24;
export const AEAD_TAG_BYTES = 16;

/** Format versions this code can open. */
export const SEALED_FORMAT = { V1: 0x01 } as const;
export type SealedFormatVersion = (typeof SEALED_FORMAT)[keyof typeof SEALED_FORMAT];

const V1_HEADER_BYTES = 1 + AEAD_KEY_ID_BYTES;
const V1_MIN_BYTES = V1_HEADER_BYTES + AEAD_NONCE_BYTES + AEAD_TAG_BYTES;

export type DecryptFailure =
  /** Too short, or not bytes at all. */
  | 'MALFORMED'
  /** A version byte this code does not know. */
  | 'UNSUPPORTED_VERSION'
  /** The key id names no key the caller holds. */
  | 'UNKNOWN_KEY'
  /** Wrong key, wrong associated data, or altered bytes: the tag did not verify. */
  | 'AUTHENTICATION_FAILED';

/**
 * Opening failed. Carries the reason and (when readable) the key id — both public — and never
 * the plaintext, the key or the ciphertext bytes.
 */
export class DecryptError extends Error {
  readonly reason: DecryptFailure;
  /** Hex key id from the header, when the header could be read. */
  readonly keyId: string | null;

  constructor(reason: DecryptFailure, keyId: string | null = null, opts?: { cause?: unknown }) {
    super(`could not open sealed data: ${describe(reason)}`, opts?.cause === undefined ? undefined : opts);
    this.name = 'DecryptError';
    this.reason = reason;
    this.keyId = keyId;
  }
}

function describe(reason: DecryptFailure): string {
  switch (reason) {
    case 'MALFORMED':
      return 'not a sealed value (too short or not bytes)';
    case 'UNSUPPORTED_VERSION':
      return 'unsupported format version';
    case 'UNKNOWN_KEY':
      return 'sealed with a key that is not available';
    case 'AUTHENTICATION_FAILED':
      return 'authentication failed (wrong key, wrong associated data, or altered bytes)';
    default: {
      const unreachable: never = reason;
      return String(unreachable);
    }
  }
}

function checkKey(key: unknown, what: string): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array) || key.byteLength !== AEAD_KEY_BYTES) {
    throw new Error(`${what} must be a Uint8Array of ${AEAD_KEY_BYTES} bytes`);
  }
}

function checkKeyId(keyId: unknown): asserts keyId is Uint8Array {
  if (!(keyId instanceof Uint8Array) || keyId.byteLength !== AEAD_KEY_ID_BYTES) {
    throw new Error(`keyId must be a Uint8Array of ${AEAD_KEY_ID_BYTES} bytes`);
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Seals `plaintext` under `key` (32 bytes) with a fresh random nonce, binding `ad` (use
 * `associatedData()`), in the current format (v1). Requires `ready()`.
 */
export function seal(input: { key: Uint8Array; keyId: Uint8Array; plaintext: Uint8Array; ad: Uint8Array }): Uint8Array {
  const sodium = requireSodium('seal');
  checkKey(input.key, 'key');
  checkKeyId(input.keyId);
  if (!(input.plaintext instanceof Uint8Array)) throw new Error('plaintext must be a Uint8Array');
  if (!(input.ad instanceof Uint8Array)) throw new Error('ad must be a Uint8Array');
  const header = concat(Uint8Array.of(SEALED_FORMAT.V1), input.keyId);
  const nonce = sodium.randombytes_buf(AEAD_NONCE_BYTES);
  const body = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    input.plaintext,
    concat(header, input.ad),
    null,
    nonce,
    input.key,
  );
  return concat(header, nonce, body);
}

/** Finds the key for a key id (hex), or undefined when it is not held. */
export type KeyLookup = (keyIdHex: string) => Uint8Array | undefined;

/** The format version of a sealed value, or a DecryptError when it is not one this code knows. */
export function sealedVersion(sealed: Uint8Array): SealedFormatVersion {
  if (!(sealed instanceof Uint8Array) || sealed.byteLength < 1) throw new DecryptError('MALFORMED');
  const v = sealed[0];
  switch (v) {
    case SEALED_FORMAT.V1:
      return v;
    default:
      throw new DecryptError('UNSUPPORTED_VERSION');
  }
}

/** The key id (hex) a sealed value names, without opening it. For rotation bookkeeping. */
export function sealedKeyId(sealed: Uint8Array): string {
  const version = sealedVersion(sealed);
  switch (version) {
    case SEALED_FORMAT.V1:
      if (sealed.byteLength < V1_MIN_BYTES) throw new DecryptError('MALFORMED');
      return toHex(sealed.subarray(1, V1_HEADER_BYTES));
    default: {
      const unreachable: never = version;
      throw new DecryptError('UNSUPPORTED_VERSION', null, { cause: unreachable });
    }
  }
}

/**
 * Opens a sealed value with the key its header names (from `keys`) and the same `ad` it was
 * sealed with. Any failure is a DecryptError; nothing else about the input leaks. Requires `ready()`.
 */
export function open(input: { keys: KeyLookup; sealed: Uint8Array; ad: Uint8Array }): Uint8Array {
  const sodium = requireSodium('open');
  if (!(input.ad instanceof Uint8Array)) throw new Error('ad must be a Uint8Array');
  const { sealed } = input;
  const version = sealedVersion(sealed);
  switch (version) {
    case SEALED_FORMAT.V1: {
      if (sealed.byteLength < V1_MIN_BYTES) throw new DecryptError('MALFORMED');
      const header = sealed.subarray(0, V1_HEADER_BYTES);
      const keyId = toHex(header.subarray(1));
      const key = input.keys(keyId);
      if (key === undefined) throw new DecryptError('UNKNOWN_KEY', keyId);
      checkKey(key, 'key');
      const nonce = sealed.subarray(V1_HEADER_BYTES, V1_HEADER_BYTES + AEAD_NONCE_BYTES);
      const body = sealed.subarray(V1_HEADER_BYTES + AEAD_NONCE_BYTES);
      try {
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, body, concat(header, input.ad), nonce, key);
      } catch (e) {
        throw new DecryptError('AUTHENTICATION_FAILED', keyId, { cause: e });
      }
    }
    default: {
      const unreachable: never = version;
      throw new DecryptError('UNSUPPORTED_VERSION', null, { cause: unreachable });
    }
  }
}

const AD_LABEL = 'flow8/ad/v1';

/** Length-prefixed (u32 BE) UTF-8 fields: unambiguous, so ("ab","c") and ("a","bc") differ. */
export function encodeFields(fields: readonly string[]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const f of fields) {
    const bytes = enc.encode(f);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, bytes.byteLength, false);
    parts.push(len, bytes);
  }
  return concat(...parts);
}

/**
 * The canonical associated data that binds a sealed value to where it is stored: the tenant,
 * the record (e.g. `crd_…`), the record's version and the field — and, for a value sealed on
 * behalf of another service (field encryption), that service: a ciphertext copied to another
 * row, company, version or field, or presented by another service, then fails to open.
 */
export function associatedData(input: {
  tenantId: string;
  recordId: string;
  version: number;
  field: string;
  service?: string;
}): Uint8Array {
  if (!Number.isSafeInteger(input.version) || input.version < 0) throw new Error('version must be a whole number >= 0');
  for (const [k, v] of [
    ['tenantId', input.tenantId],
    ['recordId', input.recordId],
    ['field', input.field],
    ...(input.service === undefined ? [] : [['service', input.service] as const]),
  ] as const) {
    if (typeof v !== 'string' || v.length === 0) throw new Error(`${k} must be a non-empty string`);
  }
  const fields = [AD_LABEL, input.tenantId, input.recordId, String(input.version), input.field];
  // Length-prefixed, so five fields and six never encode alike.
  if (input.service !== undefined) fields.push(input.service);
  return encodeFields(fields);
}
