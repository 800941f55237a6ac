import { canonicalize } from '@flow8/crypto';
import { LedgerFormatError } from './errors';
import { isRecord } from './validate';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses stored canonical bytes and insists they are exactly the RFC 8785 form of what they
 * decode to. The hash covers the bytes, but the decoded fields are what a reader acts on: bytes
 * with a duplicate key ({"seq":1,"seq":9}) or stray whitespace could be read differently by
 * another JSON parser, so they are refused rather than interpreted.
 */
export function parseCanonicalObject(canonical: Uint8Array, what: string): Record<string, unknown> {
  if (!(canonical instanceof Uint8Array)) throw new LedgerFormatError(`${what}: canonical must be bytes`);
  let text: string;
  try {
    text = strictUtf8.decode(canonical);
  } catch (e) {
    throw new LedgerFormatError(`${what}: canonical bytes are not valid UTF-8`, { cause: e });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new LedgerFormatError(`${what}: canonical bytes are not JSON (${(e as Error).message})`, {
      cause: e,
    });
  }
  if (!isRecord(value)) throw new LedgerFormatError(`${what}: canonical JSON is not an object`);
  let recanonical: string;
  try {
    recanonical = canonicalize(value);
  } catch (e) {
    throw new LedgerFormatError(`${what}: canonical JSON is not I-JSON (${(e as Error).message})`, {
      cause: e,
    });
  }
  if (recanonical !== text) {
    throw new LedgerFormatError(
      `${what}: canonical bytes are not in RFC 8785 form (duplicate keys, whitespace, key order or number format)`,
    );
  }
  return value;
}
