// Test-only helpers (not exported from the package): build a real chain with real signatures,
// then export it, so tests tamper with exactly what an attacker could touch.
import { generateSigningKeyPair, toBase64, toHex, type SigningKeyPair } from '@flow8/crypto';
import { signCheckpoint, type SignedCheckpoint } from '../checkpoint';
import { chainHash, entryCanonical, GENESIS_HASH, indexedColumnsOf, type EntryFields } from '../entry';
import { exportCheckpointLine, exportEntryLine, exportHeaderLine, type StoredEntry } from '../export';

export type Chain = {
  tenantId: string;
  keyPair: SigningKeyPair;
  entries: StoredEntry[];
  checkpoints: SignedCheckpoint[];
};

export function entryFields(tenantId: string, seq: number, payload: Record<string, unknown> = {}): EntryFields {
  const ms = String(seq % 1000).padStart(3, '0');
  return {
    tenantId,
    seq,
    eventId: `0193a000-0000-7000-8000-${String(seq).padStart(12, '0')}`,
    type: 'identity.user.created',
    occurredAt: `2026-11-30T07:50:00.${ms}Z`,
    recordedAt: `2026-11-30T07:50:01.${ms}Z`,
    actor: { type: 'user', id: 'usr_01J0000000000000000000ADMN', ip: '203.0.113.7' },
    resource: { type: 'user', id: `usr_${seq}` },
    purpose: null,
    traceparent: null,
    payload: { n: seq, ...payload },
  };
}

/** Appends entries for `fieldsList` after `prev` (or from genesis), as audit-ingest would. */
export function appendEntries(fieldsList: EntryFields[], prev: Uint8Array = GENESIS_HASH): StoredEntry[] {
  const out: StoredEntry[] = [];
  let prevHash = prev;
  for (const f of fieldsList) {
    const canonical = entryCanonical(f);
    const hash = chainHash(prevHash, canonical);
    // The columns audit-ingest stores beside the bytes, as it would store them.
    out.push({ seq: f.seq, prevHash, hash, canonical, columns: indexedColumnsOf(f) });
    prevHash = hash;
  }
  return out;
}

/** Requires `ready()` from @flow8/crypto. */
export function buildChain(
  n: number,
  opts: { tenantId?: string; checkpointsAt?: number[]; keyPair?: SigningKeyPair } = {},
): Chain {
  const tenantId = opts.tenantId ?? 'ten_01J00000000000000000000ACME';
  const keyPair = opts.keyPair ?? generateSigningKeyPair();
  const entries = appendEntries(Array.from({ length: n }, (_, i) => entryFields(tenantId, i + 1)));
  const checkpoints = (opts.checkpointsAt ?? []).map((seq) =>
    signCheckpoint(
      { tenantId, seq, headHash: toHex(entries[seq - 1]!.hash), signedAt: '2026-11-30T08:00:00.000Z' },
      keyPair,
    ),
  );
  return { tenantId, keyPair, entries, checkpoints };
}

export function exportLines(
  chain: Pick<Chain, 'tenantId' | 'keyPair'>,
  entries: StoredEntry[],
  checkpoints: SignedCheckpoint[],
  header: { complete?: boolean; from?: number | null; to?: number | null } = {},
): string[] {
  return [
    exportHeaderLine({
      tenantId: chain.tenantId,
      generatedAt: '2026-11-30T09:00:00.000Z',
      from: header.from ?? null,
      to: header.to ?? null,
      complete: header.complete ?? true,
      publicKeys: [chain.keyPair.publicKey],
    }),
    ...entries.map(exportEntryLine),
    ...checkpoints.map(exportCheckpointLine),
  ];
}

export async function* asAsync(lines: string[]): AsyncGenerator<string> {
  for (const l of lines) yield l;
}

export function publicKeyBase64(chain: Pick<Chain, 'keyPair'>): string {
  return toBase64(chain.keyPair.publicKey);
}
