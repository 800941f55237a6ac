import { constantTimeEqual, publicKeyId, toHex, verifySignature } from '@flow8/crypto';
import { decodeCheckpoint, type CheckpointFields } from './checkpoint';
import { chainHash, decodeEntry, GENESIS_HASH, INDEXED_COLUMNS, indexedColumnsOf } from './entry';
import type { StoredEntry } from './export';
import { isSeq } from './validate';

export type VerifyResult = {
  /** True when no problem was found. */
  ok: boolean;
  /** Entry rows seen, including any after the first problem. */
  checked: number;
  /** The seq of the first problem found (for a missing or misplaced entry: the seq expected there). */
  firstBadSeq: number | null;
  /** What the first problem was; null when ok. */
  reason: string | null;
  /** The last entry that verified: the chain head when ok, the last good entry otherwise. */
  head: { seq: number; hash: string } | null;
  /** Checkpoints whose signature verified under a trusted key AND whose headHash matched the export. */
  checkpointsVerified: number;
};

export type ChainVerifierOptions = {
  tenantId: string;
  /** Raw 32-byte Ed25519 public keys the verifier trusts. Never take these from the export itself. */
  trustedPublicKeys: Uint8Array[];
  /** The export claims to run from seq 1 to the head (header `complete`). */
  complete: boolean;
};

/** A stored checkpoint row: its fields as stored/exported, plus the signed bytes and signature. */
export type CheckpointRow = CheckpointFields & { canonical: Uint8Array; signature: Uint8Array };

export type ChainVerifier = {
  /** Feed entries in the order they were stored/exported. */
  entry(row: StoredEntry): void;
  /** Feed checkpoints in any position: before, between or after the entries. */
  checkpoint(cp: CheckpointRow): void;
  /**
   * Records a problem found outside the verifier (e.g. an unparseable export line) unless one is
   * already recorded. `seq` defaults to the next seq the chain expects (null if unknown).
   */
  fail(reason: string, seq?: number | null): void;
  /** True once a problem has been recorded. */
  readonly failed: boolean;
  /** Finishes (checking checkpoints beyond the last entry) and returns the result; idempotent. */
  result(): VerifyResult;
};

const HASHES_PER_CHUNK = 32_768; // 1 MiB chunks: no large reallocations on long chains

/** Entry hashes by seq, 32 bytes each, so late checkpoints can be compared with any entry. */
class HashStore {
  private readonly chunks: Uint8Array[] = [];
  private count = 0;
  /** `base` is the seq of the first hash pushed (the anchor: prevHash of the first entry). */
  constructor(readonly base: number) {}

  push(hash: Uint8Array): void {
    const i = this.count % HASHES_PER_CHUNK;
    if (i === 0) this.chunks.push(new Uint8Array(HASHES_PER_CHUNK * 32));
    this.chunks[this.chunks.length - 1]!.set(hash, i * 32);
    this.count++;
  }

  get(seq: number): Uint8Array | undefined {
    const idx = seq - this.base;
    if (idx < 0 || idx >= this.count) return undefined;
    const chunk = this.chunks[Math.floor(idx / HASHES_PER_CHUNK)]!;
    const off = (idx % HASHES_PER_CHUNK) * 32;
    return chunk.subarray(off, off + 32);
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The one verification routine of the ledger, used online (audit-ingest over stored rows) and
 * offline (the CLI over an NDJSON export). It keeps O(1) state per entry beyond 32 bytes of hash
 * (so checkpoints that arrive after their entries can still be checked) and records only the
 * FIRST problem; later rows are counted but not judged, because after one break every later
 * comparison would report noise.
 */
export function createChainVerifier(opts: ChainVerifierOptions): ChainVerifier {
  const { tenantId, complete } = opts;
  const trusted = new Map<string, Uint8Array[]>();
  for (const pk of opts.trustedPublicKeys) {
    const id = publicKeyId(pk); // throws for anything that is not a 32-byte key: a caller bug
    trusted.set(id, [...(trusted.get(id) ?? []), pk]);
  }

  let checked = 0;
  let checkpointsVerified = 0;
  let failure: { seq: number | null; reason: string } | null = null;
  let lastSeq: number | null = null;
  let lastHash: Uint8Array | null = null;
  let store: HashStore | null = null;
  let finished: VerifyResult | null = null;
  // Verified (signed, trusted) checkpoints whose seq the entries have not reached yet.
  const pending = new Map<number, string[]>();

  const expectedNext = (): number | null => (lastSeq !== null ? lastSeq + 1 : complete ? 1 : null);

  function fail(reason: string, seq: number | null | undefined = undefined): void {
    if (failure) return;
    failure = { seq: seq === undefined ? expectedNext() : seq, reason };
  }

  function compareHead(seq: number, headHash: string, actual: Uint8Array): void {
    const actualHex = toHex(actual);
    if (actualHex === headHash) {
      checkpointsVerified++;
      return;
    }
    const where =
      store && seq === store.base ? 'the anchor (prevHash of the first entry)' : `the entry hash at seq ${seq}`;
    fail(
      `checkpoint mismatch: the signed headHash for seq ${seq} is ${headHash} but ${where} is ${actualHex}; ` +
        `the chain was rewritten at or before seq ${seq}`,
      seq,
    );
  }

  function entry(row: StoredEntry): void {
    if (finished) throw new Error('chain verifier: entry() after result()');
    checked++;
    if (failure) return;

    // 1. Position: seq 1.. without gaps, in order.
    if (!isSeq(row.seq)) return fail(`entry has an invalid seq ${JSON.stringify(row.seq)}`);
    if (lastSeq === null) {
      if (complete && row.seq !== 1) {
        return fail(
          `gap: expected seq 1, found seq ${row.seq} (a complete export starts at seq 1; entry 1 is missing or out of place)`,
          1,
        );
      }
    } else if (row.seq !== lastSeq + 1) {
      const exp = lastSeq + 1;
      return fail(
        row.seq > exp
          ? `gap: expected seq ${exp}, found seq ${row.seq} (entry ${exp} is missing or out of place)`
          : `out of order: expected seq ${exp}, found seq ${row.seq} again or earlier (entry ${exp} is missing or out of place)`,
        exp,
      );
    }
    const seq = row.seq;

    // 2. Link to the previous entry (or to the genesis / the anchor of a partial export).
    if (!(row.prevHash instanceof Uint8Array) || row.prevHash.byteLength !== 32) {
      return fail('prevHash is not 32 bytes', seq);
    }
    if (lastHash === null) {
      if (complete && !constantTimeEqual(row.prevHash, GENESIS_HASH)) {
        return fail('prevHash of seq 1 is not the genesis hash (32 zero bytes)', seq);
      }
    } else if (!constantTimeEqual(row.prevHash, lastHash)) {
      return fail(
        `prevHash ${toHex(row.prevHash)} does not link to the hash of seq ${lastSeq} (${toHex(lastHash)})`,
        seq,
      );
    }

    // 3. Integrity of the stored bytes.
    const computed = chainHash(row.prevHash, row.canonical);
    if (!(row.hash instanceof Uint8Array) || !constantTimeEqual(computed, row.hash)) {
      const stated = row.hash instanceof Uint8Array ? toHex(row.hash) : String(row.hash);
      return fail(`hash mismatch (stated ${stated}, SHA-256(prevHash ‖ canonical) is ${toHex(computed)})`, seq);
    }

    // 4. Meaning of the bytes: a v1 entry of this tenant at this seq.
    let decoded;
    try {
      decoded = decodeEntry(row.canonical);
    } catch (e) {
      return fail(`canonical does not decode: ${message(e)}`, seq);
    }
    if (decoded.tenantId !== tenantId) {
      return fail(`entry belongs to tenant ${JSON.stringify(decoded.tenantId)}, not ${JSON.stringify(tenantId)}`, seq);
    }
    if (decoded.seq !== seq) return fail(`canonical says seq ${decoded.seq} but the row says seq ${seq}`, seq);

    // 5. The row's search columns are copies of the canonical fields: a copy that differs would
    //    hide the entry from a search by its true value, or show it under another. (Values are
    //    not echoed: the column could hold anything.)
    if (row.columns) {
      const expected = indexedColumnsOf(decoded);
      const differing = INDEXED_COLUMNS.filter((c) => row.columns![c] !== expected[c]);
      if (differing.length > 0) {
        return fail(
          `indexed column${differing.length > 1 ? 's' : ''} ${differing.join(', ')} disagree${differing.length > 1 ? '' : 's'} with the canonical bytes: searches by ${differing.length > 1 ? 'them' : 'it'} hide or misattribute this entry`,
          seq,
        );
      }
    }

    if (store === null) {
      store = new HashStore(seq - 1);
      store.push(row.prevHash);
      const anchored = pending.get(seq - 1);
      if (anchored) {
        pending.delete(seq - 1);
        for (const h of anchored) compareHead(seq - 1, h, row.prevHash);
        if (failure) return;
      }
    }
    store.push(computed);
    lastSeq = seq;
    lastHash = computed;
    const waiting = pending.get(seq);
    if (waiting) {
      pending.delete(seq);
      for (const h of waiting) compareHead(seq, h, computed);
    }
  }

  function checkpoint(cp: CheckpointRow): void {
    if (finished) throw new Error('chain verifier: checkpoint() after result()');
    if (failure) return;
    const lineSeq = isSeq(cp.seq) ? cp.seq : null;
    let decoded;
    try {
      decoded = decodeCheckpoint(cp.canonical);
    } catch (e) {
      return fail(`checkpoint at seq ${String(cp.seq)}: canonical does not decode: ${message(e)}`, lineSeq);
    }
    const at = `checkpoint at seq ${decoded.seq}`;
    for (const key of ['tenantId', 'seq', 'headHash', 'signedAt', 'keyId'] as const) {
      if (decoded[key] !== cp[key]) {
        return fail(
          `${at}: ${key} ${JSON.stringify(cp[key])} differs from the signed value ${JSON.stringify(decoded[key])}`,
          decoded.seq,
        );
      }
    }
    if (decoded.tenantId !== tenantId) {
      return fail(
        `${at}: signed for tenant ${JSON.stringify(decoded.tenantId)}, not ${JSON.stringify(tenantId)}`,
        decoded.seq,
      );
    }
    const keys = trusted.get(decoded.keyId);
    if (!keys) {
      return fail(
        `${at}: signed by untrusted key ${decoded.keyId} (not among the public keys given to the verifier)`,
        decoded.seq,
      );
    }
    if (!keys.some((pk) => verifySignature(cp.signature, cp.canonical, pk))) {
      return fail(`${at}: invalid signature (key ${decoded.keyId})`, decoded.seq);
    }
    const known = store?.get(decoded.seq);
    if (known) return compareHead(decoded.seq, decoded.headHash, known);
    // Not reached yet (or, in a partial export, before its range: left pending and never counted).
    pending.set(decoded.seq, [...(pending.get(decoded.seq) ?? []), decoded.headHash]);
  }

  function result(): VerifyResult {
    if (finished) return finished;
    if (!failure && complete) {
      // A complete export runs to the head, so every signed head must be inside it.
      const beyond = [...pending.keys()].filter((s) => lastSeq === null || s > lastSeq).sort((a, b) => a - b);
      const first = beyond[0];
      if (first !== undefined) {
        const missingFrom = (lastSeq ?? 0) + 1;
        fail(
          `truncated: the export ends at ${lastSeq === null ? 'no entries' : `seq ${lastSeq}`} but a signed checkpoint covers seq ${first}; entries ${missingFrom}..${first} are missing`,
          missingFrom,
        );
      }
    }
    const f = failure as { seq: number | null; reason: string } | null;
    finished = {
      ok: f === null,
      checked,
      firstBadSeq: f?.seq ?? null,
      reason: f?.reason ?? null,
      head: lastSeq !== null && lastHash !== null ? { seq: lastSeq, hash: toHex(lastHash) } : null,
      checkpointsVerified,
    };
    return finished;
  }

  return {
    entry,
    checkpoint,
    fail,
    get failed() {
      return failure !== null;
    },
    result,
  };
}
