import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { fromBase64, publicKeyId, ready } from '@flow8/crypto';
import { LedgerFormatError } from '../errors';
import { parseCheckpointFile, verifyExportStream, type ExportVerifyResult } from '../stream';
import type { CheckpointRow } from '../verifier';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export type CliIo = {
  stdin: Readable;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
};

export const USAGE = `Usage: pnpm audit:verify --export <file|-> --public-key <base64|@file> [--public-key ...]
                         [--checkpoints <file> ...] [--json]

Verifies a flow8 audit ledger export (NDJSON) offline: every entry hash, the chain links,
every indexed column against the hashed bytes, and every signed checkpoint against the public
key(s) you give (never the export's own keys).

  --export <file|->        the export file, or - to read standard input
  --public-key <k>         a trusted Ed25519 public key: base64 of its 32 raw bytes, or
                           @path to a file holding that base64 text (repeatable)
  --checkpoints <file>     checkpoints you kept outside the system: the JSON body of
                           GET /v1/audit/checkpoints, or NDJSON with checkpoint lines (an
                           earlier export) (repeatable); a complete export that ends before
                           one of them has been truncated
  --json                   print the result as one JSON object
  -h, --help               this text

Exit codes: 0 verified, 1 verification failed, 2 usage or input error.`;

class UsageError extends Error {}

async function loadKey(arg: string): Promise<Uint8Array> {
  let text = arg;
  if (arg.startsWith('@')) {
    try {
      text = (await readFile(arg.slice(1), 'utf8')).trim();
    } catch (e) {
      throw new UsageError(`--public-key ${arg}: cannot read file (${(e as Error).message})`);
    }
  }
  let key: Uint8Array;
  try {
    key = fromBase64(text);
  } catch {
    throw new UsageError(`--public-key ${arg}: not base64`);
  }
  if (key.byteLength !== 32) {
    throw new UsageError(`--public-key ${arg}: an Ed25519 public key is 32 bytes, this is ${key.byteLength}`);
  }
  return key;
}

async function loadCheckpoints(path: string): Promise<CheckpointRow[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--checkpoints ${path}: cannot read (${(e as Error).message})`);
  }
  try {
    return parseCheckpointFile(text);
  } catch (e) {
    if (e instanceof LedgerFormatError) throw new UsageError(`--checkpoints ${path}: ${e.message}`);
    throw e;
  }
}

async function openExport(path: string, stdin: Readable): Promise<Readable> {
  if (path === '-') return stdin;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new Error('not a regular file');
  } catch (e) {
    throw new UsageError(`--export ${path}: cannot read (${(e as Error).message})`);
  }
  return createReadStream(path);
}

function formatText(r: ExportVerifyResult, io: CliIo): void {
  if (r.ok) {
    const head = r.head ? `head seq ${r.head.seq} ${r.head.hash}` : 'no entries';
    io.stdout(`OK: ${r.checked} entries verified, ${head}, ${r.checkpointsVerified} checkpoints verified\n`);
    if (r.complete === false) {
      // A partial export only proves its own range; the officer should know what was not covered.
      io.stderr(
        'NOTE: partial export (header complete=false): entries before its first seq are not covered, and entries missing at its end are detected only by a checkpoint.\n',
      );
    }
    if (r.checkpointsVerified === 0) {
      // Without a signed checkpoint, someone who rewrote the whole chain could recompute it.
      io.stderr(
        'WARNING: no signed checkpoint was verified; the hash chain alone does not prove the export was not rewritten as a whole.\n',
      );
    }
    return;
  }
  const at = r.firstBadSeq !== null ? ` at seq ${r.firstBadSeq}` : '';
  const line = r.line !== null ? ` [export line ${r.line}]` : '';
  io.stdout(`FAILED${at}: ${r.reason ?? 'unknown problem'}${line}\n`);
  io.stdout(
    `  ${r.checked} entries read; ${r.head ? `chain verified up to seq ${r.head.seq}` : 'no entry verified'}; ${r.checkpointsVerified} checkpoints verified before the failure\n`,
  );
}

/** Runs the offline verifier; resolves to the process exit code. */
export async function runVerifyCli(argv: string[], io: CliIo): Promise<number> {
  try {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: {
          export: { type: 'string' },
          'public-key': { type: 'string', multiple: true },
          checkpoints: { type: 'string', multiple: true },
          json: { type: 'boolean', default: false },
          help: { type: 'boolean', short: 'h', default: false },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (values.help) {
      io.stdout(`${USAGE}\n`);
      return EXIT_OK;
    }
    if (!values.export) throw new UsageError('--export is required');
    const keyArgs = values['public-key'] ?? [];
    if (keyArgs.length === 0) {
      throw new UsageError('at least one --public-key is required (the key published by your flow8 operator)');
    }

    await ready();
    const keys: Uint8Array[] = [];
    for (const k of keyArgs) keys.push(await loadKey(k));
    const kept: CheckpointRow[] = [];
    for (const f of values.checkpoints ?? []) kept.push(...(await loadCheckpoints(f)));
    const input = await openExport(values.export, io.stdin);

    let result: ExportVerifyResult;
    try {
      const rl = createInterface({ input, crlfDelay: Infinity });
      // readline does not reliably surface input errors, so reading stops on one explicitly.
      const failed = new Promise<never>((_, reject) => input.once('error', reject));
      result = await Promise.race([verifyExportStream(rl, keys, { checkpoints: kept }), failed]);
      rl.close();
    } catch (e) {
      io.stderr(`error: could not read the export: ${(e as Error).message}\n`);
      return EXIT_USAGE;
    }

    if (values.json) {
      io.stdout(`${JSON.stringify({ ...result, trustedKeyIds: keys.map(publicKeyId) })}\n`);
    } else {
      formatText(result, io);
    }
    return result.ok ? EXIT_OK : EXIT_FAILED;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`error: ${e.message}\n\n${USAGE}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}
