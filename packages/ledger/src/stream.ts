import { fromBase64, fromHex } from '@flow8/crypto';
import { EXPORT_FORMAT } from './export';
import { HASH_HEX_RE, isRecord, isSeq } from './validate';
import { createChainVerifier, type ChainVerifier, type VerifyResult } from './verifier';

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

/**
 * Verifies an NDJSON export (docs/audit-ledger-format.md) line by line with the same verifier
 * the online check uses. Only `trustedPublicKeys` are trusted for checkpoints, never the keys
 * listed in the export's header. Lines may end in CRLF; blank lines are ignored. A line that is
 * not JSON, not an object, of an unknown kind, or missing a field is a failure naming the line.
 */
export async function verifyExportStream(
  lines: AsyncIterable<string>,
  trustedPublicKeys: Uint8Array[],
): Promise<ExportVerifyResult> {
  let lineNo = 0;
  let tenantId: string | null = null;
  let complete: boolean | null = null;
  let verifier: ChainVerifier | null = null;
  let failLine: number | null = null;

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
      if (h.format !== EXPORT_FORMAT) {
        return headerFailure(`unsupported export format ${JSON.stringify(h.format)} (expected "${EXPORT_FORMAT}")`);
      }
      if (typeof h.tenantId !== 'string' || h.tenantId === '')
        return headerFailure('export header: "tenantId" missing');
      if (typeof h.complete !== 'boolean') return headerFailure('export header: "complete" must be true or false');
      tenantId = h.tenantId;
      complete = h.complete;
      verifier = createChainVerifier({ tenantId, trustedPublicKeys, complete: h.complete });
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
          };
          step(v, () => v.entry(row));
          break;
        }
        case 'checkpoint': {
          const cp = {
            tenantId: str(o, 'tenantId'),
            seq: seqOf(o),
            headHash: str(o, 'headHash'),
            signedAt: str(o, 'signedAt'),
            keyId: str(o, 'keyId'),
            signature: b64(o, 'signature'),
            canonical: b64(o, 'canonical'),
          };
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
