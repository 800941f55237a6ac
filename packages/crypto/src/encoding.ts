// Strict decoders: Buffer.from(s, 'hex' | 'base64') silently skips or truncates bad input, and
// a verifier that accepts "almost hex" can be made to compare the wrong bytes.

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function toUint8Array(buf: Buffer): Uint8Array {
  // A copy, so callers get a plain Uint8Array that does not alias Node's shared Buffer pool.
  return new Uint8Array(buf);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  return asBuffer(bytes).toString('hex');
}

/** Decodes hex (either case). Throws on odd length or any non-hex character. */
export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== 'string' || !HEX_RE.test(hex)) {
    throw new Error('invalid hex: expected an even number of characters 0-9, a-f, A-F');
  }
  return toUint8Array(Buffer.from(hex, 'hex'));
}

/** Standard base64 (RFC 4648 §4) with padding. */
export function toBase64(bytes: Uint8Array): string {
  return asBuffer(bytes).toString('base64');
}

/**
 * Decodes standard, padded base64 (RFC 4648 §4). Throws on whitespace, the URL-safe alphabet,
 * missing padding, or non-zero padding bits (so every byte string has exactly one encoding).
 */
export function fromBase64(b64: string): Uint8Array {
  if (typeof b64 !== 'string' || !BASE64_RE.test(b64)) {
    throw new Error('invalid base64: expected standard padded base64 (A-Z a-z 0-9 + /, = padding)');
  }
  const buf = Buffer.from(b64, 'base64');
  if (buf.toString('base64') !== b64) {
    throw new Error('invalid base64: non-canonical encoding (padding bits are not zero)');
  }
  return toUint8Array(buf);
}
