import { fromBase64, fromHex } from '@flow8/crypto';
import { decodeCheckpoint } from './checkpoint';
import { INDEXED_COLUMNS, type IndexedColumns } from './entry';
import { LedgerFormatError } from './errors';
import { EXPORT_FORMAT, EXPORT_FORMATS } from './export';
import { HASH_HEX_RE, isRecord, isSeq } from './validate';
import { createChainVerifier, type ChainVerifier, type CheckpointRow, type VerifyResult } from './verifier';

export type ExportVerifyResult = VerifyResult & {
  /** From the export header; null when the header is missing or unreadable. */
  tenantId: string | null;
  /** From the export header: whether it claims to run from seq 1 to the head; null if unknown. */
  complete: boolean | null;
  /** 1-based line of the export where the first problem was found; null if none or not line-bound. */
  line: number | null;
};

class LineError extends Error {}

function str(obj: Record<string, unknown>, key: string): string {
  const v = obj[key];
  if (typeof v !== 'string') throw new LineError(`"${key}" must be a string`);
  return v;
}

function seqOf(obj: Record<string, unknown>): number {
  const v = obj.seq;
  if (!isSeq(v)) throw new LineError(`"seq" must be an integer >= 1`);
  return v;
}

function hash(obj: Record<string, unknown>, key: string): Uint8Array {
  const v = obj[key];
  if (typeof v !== 'string' || !HASH_HEX_RE.test(v)) {
    throw new LineError(`"${key}" must be 64 lowercase hex characters`);
  }
  return fromHex(v);
}

function b64(obj: Record<string, unknown>, key: string): Uint8Array {
  try {
    return fromBase64(str(obj, key));
  } catch (e) {
    throw new LineError(`"${key}": ${(e as Error).message}`);
  }
}

function columnsOf(obj: Record<string, unknown>): IndexedColumns {
  const c = obj.columns;
  if (!isRecord(c)) throw new LineError('"columns" must be an object (a v2 entry line carries its indexed columns)');
  const out: Partial<IndexedColumns> = {};
  for (const k of INDEXED_COLUMNS) {
    if (typeof c[k] !== 'string') throw new LineError(`"columns.${k}" must be a string`);
    out[k] = c[k];
  }
  return out as IndexedColumns;
}

/** A checkpoint line of an export (kind "checkpoint"): the fields as stored, the signed bytes, the signature. */
function checkpointOf(o: Record<string, unknown>): CheckpointRow {
  return {
    tenantId: str(o, 'tenantId'),
    seq: seqOf(o),
    headHash: str(o, 'headHash'),
    signedAt: str(o, 'signedAt'),
    keyId: str(o, 'keyId'),
    signature: b64(o, 'signature'),
    canonical: b64(o, 'canonical'),
  };
}

/**
 * Checkpoints an auditor kept outside the system, for `verifyExportStream(…, { checkpoints })`.
 * Reads either the JSON body of `GET /v1/audit/checkpoints` (`{"items":[…]}`) or NDJSON whose
 * `"kind":"checkpoint"` lines are taken (an earlier export works: its other lines are skipped).
 * Nothing here is trusted yet: the verifier checks every signature against the keys it is given.
 * Throws LedgerFormatError naming the item or line that cannot be read.
 */
export function parseCheckpointFile(text: string): CheckpointRow[] {
  const out: CheckpointRow[] = [];
  let whole: unknown = undefined;
  try {
    whole = JSON.parse(text);
  } catch {
    // not one JSON document: NDJSON
  }
  if (isRecord(whole) && Array.isArray(whole.items)) {
    whole.items.forEach((item, i) => {
      try {
        if (!isRecord(item)) throw new LineError('not an object');
        const canonical = b64(item, 'canonical');
        let tenantId: string;
        try {
          tenantId = decodeCheckpoint(canonical).tenantId;
        } catch (e) {
          throw new LineError(`"canonical" is not a checkpoint (${(e as Error).message})`);
        }
        out.push(checkpointOf({ ...item, tenantId }));
      } catch (e) {
        if (!(e instanceof LineError)) throw e;
        throw new LedgerFormatError(`items[${i}]: ${e.message}`);
      }
    });
    return out;
  }
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch (e) {
      throw new LedgerFormatError(`line ${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    if (!isRecord(o)) throw new LedgerFormatError(`line ${i + 1}: not a JSON object`);
    if (o.kind !== 'checkpoint') return;
    try {
      out.push(checkpointOf(o));
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      throw new LedgerFormatError(`line ${i + 1}: ${e.message}`);
    }
  });
  return out;
}

/**
 * Verifies an NDJSON export (docs/audit-ledger-format.md) line by line with the same verifier
 * the online check uses. Only `trustedPublicKeys` are trusted for checkpoints, never the keys
 * listed in the export's header. Lines may end in CRLF; blank lines are ignored. A line that is
 * not JSON, not an object, of an unknown kind, or missing a field is a failure naming the line.
 * `opts.checkpoints` are checkpoints kept outside the system (parseCheckpointFile): they are
 * checked exactly like the export's own, so an export cut short before one of them fails.
 */
export async function verifyExportStream(
  lines: AsyncIterable<string>,
  trustedPublicKeys: Uint8Array[],
  opts: { checkpoints?: CheckpointRow[] } = {},
): Promise<ExportVerifyResult> {
  let lineNo = 0;
  let tenantId: string | null = null;
  let complete: boolean | null = null;
  let verifier: ChainVerifier | null = null;
  let failLine: number | null = null;
  let withColumns = false;

  const headerFailure = (reason: string): ExportVerifyResult => ({
    ok: false,
    checked: 0,
    firstBadSeq: null,
    reason,
    head: null,
    checkpointsVerified: 0,
    tenantId,
    complete,
    line: lineNo === 0 ? null : lineNo,
  });

  // Runs one verifier step and remembers the line if that step recorded the first problem.
  const step = (v: ChainVerifier, fn: () => void): void => {
    const before = v.failed;
    fn();
    if (!before && v.failed) failLine = lineNo;
  };

  for await (const raw of lines) {
    lineNo++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() === '') continue;

    let obj: unknown;
    let parseError: string | null = null;
    try {
      obj = JSON.parse(text);
      if (!isRecord(obj)) parseError = 'not a JSON object';
    } catch (e) {
      parseError = `not valid JSON (${(e as Error).message})`;
    }

    if (verifier === null) {
      if (parseError !== null) return headerFailure(`export header: ${parseError}`);
      const h = obj as Record<string, unknown>;
      if (h.kind !== 'header') return headerFailure('the first line must be the export header');
      if (!(EXPORT_FORMATS as readonly unknown[]).includes(h.format)) {
        return headerFailure(`unsupported export format ${JSON.stringify(h.format)} (expected "${EXPORT_FORMAT}")`);
      }
      withColumns = h.format !== 'flow8.audit.export.v1';
      if (typeof h.tenantId !== 'string' || h.tenantId === '')
        return headerFailure('export header: "tenantId" missing');
      if (typeof h.complete !== 'boolean') return headerFailure('export header: "complete" must be true or false');
      tenantId = h.tenantId;
      complete = h.complete;
      verifier = createChainVerifier({ tenantId, trustedPublicKeys, complete: h.complete });
      const v = verifier;
      // Kept outside: fed first, so a problem with one is reported before any line (line null).
      for (const cp of opts.checkpoints ?? []) v.checkpoint(cp);
      continue;
    }
    const v = verifier;

    if (parseError !== null) {
      step(v, () => v.fail(parseError));
      continue;
    }
    const o = obj as Record<string, unknown>;
    try {
      switch (o.kind) {
        case 'entry': {
          const row = {
            seq: seqOf(o),
            prevHash: hash(o, 'prevHash'),
            hash: hash(o, 'hash'),
            canonical: b64(o, 'canonical'),
            ...(withColumns ? { columns: columnsOf(o) } : {}),
          };
          step(v, () => v.entry(row));
          break;
        }
        case 'checkpoint': {
          const cp = checkpointOf(o);
          step(v, () => v.checkpoint(cp));
          break;
        }
        case 'header':
          step(v, () => v.fail('a second export header'));
          break;
        default:
          step(v, () => v.fail(`unknown line kind ${JSON.stringify(o.kind)}`));
      }
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      const seq = isSeq(o.seq) ? o.seq : undefined;
      step(v, () => v.fail(`malformed ${String(o.kind)} line: ${e.message}`, seq));
    }
  }

  if (verifier === null) return headerFailure('the export is empty (no header line)');
  // A problem found only here (truncation) belongs to no line, so failLine stays null for it.
  return { ...verifier.result(), tenantId, complete, line: failLine };
}
