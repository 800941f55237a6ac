import { canonicalBytes, constantTimeEqual, publicKeyId, sign, type SigningKeyPair } from '@flow8/crypto';
import { parseCanonicalObject } from './canonical-json';
import { LedgerFormatError } from './errors';
import {
  checkExactKeys,
  HASH_HEX_RE,
  KEY_ID_RE,
  requireMatch,
  requireSeq,
  requireString,
  UTC_MILLIS_RE,
} from './validate';

export const CHECKPOINT_KIND = 'flow8.audit.checkpoint';

export type CheckpointFields = {
  tenantId: string;
  seq: number;
  /** Lowercase hex of the entry hash at `seq`. */
  headHash: string;
  /** UTC, millisecond precision. */
  signedAt: string;
  /** publicKeyId() of the signing key: 16 lowercase hex characters. */
  keyId: string;
};

export type LedgerCheckpointV1 = { v: 1; kind: typeof CHECKPOINT_KIND } & CheckpointFields;

export type SignedCheckpoint = {
  fields: CheckpointFields;
  /** Store verbatim, like entry canonical bytes. */
  canonical: Uint8Array;
  /** Detached Ed25519 signature over `canonical` (64 bytes). */
  signature: Uint8Array;
};

const CHECKPOINT_KEYS = ['v', 'kind', 'tenantId', 'seq', 'headHash', 'signedAt', 'keyId'] as const;

function validateCheckpoint(obj: Record<string, unknown>, what: string): LedgerCheckpointV1 {
  if (obj.v !== 1) {
    throw new LedgerFormatError(`${what}: unsupported version v=${JSON.stringify(obj.v)} (expected 1)`);
  }
  if (obj.kind !== CHECKPOINT_KIND) throw new LedgerFormatError(`${what}: "kind" must be "${CHECKPOINT_KIND}"`);
  checkExactKeys(obj, CHECKPOINT_KEYS, what);
  requireString(obj, 'tenantId', what);
  requireSeq(obj, 'seq', what);
  requireMatch(obj, 'headHash', HASH_HEX_RE, what, '64 lowercase hex characters');
  requireMatch(obj, 'signedAt', UTC_MILLIS_RE, what, 'UTC with millisecond precision');
  requireMatch(obj, 'keyId', KEY_ID_RE, what, '16 lowercase hex characters');
  return obj as LedgerCheckpointV1;
}

/** Canonical bytes of a v1 checkpoint (the signed message). */
export function checkpointCanonical(fields: CheckpointFields): Uint8Array {
  const cp: LedgerCheckpointV1 = {
    v: 1,
    kind: CHECKPOINT_KIND,
    tenantId: fields.tenantId,
    seq: fields.seq,
    headHash: fields.headHash,
    signedAt: fields.signedAt,
    keyId: fields.keyId,
  };
  validateCheckpoint(cp, 'checkpoint');
  return canonicalBytes(cp);
}

/** Decodes stored checkpoint canonical bytes; throws LedgerFormatError like decodeEntry. */
export function decodeCheckpoint(canonical: Uint8Array): LedgerCheckpointV1 {
  return validateCheckpoint(parseCanonicalObject(canonical, 'checkpoint'), 'checkpoint');
}

/**
 * Signs a tenant's chain head. `keyId` is derived from the key pair, so it always names the key
 * that actually signed. Requires `ready()` from @flow8/crypto.
 */
export function signCheckpoint(fields: Omit<CheckpointFields, 'keyId'>, keyPair: SigningKeyPair): SignedCheckpoint {
  // libsodium's secret key ends with its public key; a mismatched pair would publish a keyId
  // under which the signature never verifies.
  if (keyPair.secretKey.byteLength !== 64 || !constantTimeEqual(keyPair.secretKey.subarray(32), keyPair.publicKey)) {
    throw new LedgerFormatError('signCheckpoint: secretKey does not belong to publicKey');
  }
  const full: CheckpointFields = {
    tenantId: fields.tenantId,
    seq: fields.seq,
    headHash: fields.headHash,
    signedAt: fields.signedAt,
    keyId: publicKeyId(keyPair.publicKey),
  };
  const canonical = checkpointCanonical(full);
  return { fields: full, canonical, signature: sign(canonical, keyPair.secretKey) };
}
