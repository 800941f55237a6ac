import { publicKeyId, toBase64, toHex } from '@flow8/crypto';
import type { SignedCheckpoint } from './checkpoint';
import { decodeEntry, type IndexedColumns, type LedgerEntryV1 } from './entry';
import { LedgerFormatError } from './errors';
import { requireHash } from './validate';

/** What exporters write: v2 entry lines carry the row's indexed columns. */
export const EXPORT_FORMAT = 'flow8.audit.export.v2';
/** Every format the verifier reads (v1: no indexed columns on entry lines). */
export const EXPORT_FORMATS = ['flow8.audit.export.v1', EXPORT_FORMAT] as const;

/** One stored ledger row, as audit-ingest reads it from `ledger_entries`. */
export type StoredEntry = {
  seq: number;
  prevHash: Uint8Array;
  hash: Uint8Array;
  canonical: Uint8Array;
  /** The row's search columns as stored (audit-ingest); the verifier checks them against `canonical`. */
  columns?: IndexedColumns;
};

export type ExportHeader = {
  tenantId: string;
  /** ISO-8601 UTC time the export was produced. */
  generatedAt: string;
  /** First seq requested, or null when unfiltered. */
  from: number | null;
  /** Last seq requested, or null when unfiltered. */
  to: number | null;
  /** True only when the export runs from seq 1 to the head with no filter. */
  complete: boolean;
  /** The server's checkpoint keys, for information only: a verifier never trusts these. */
  publicKeys: Uint8Array[];
};

/** The NDJSON header line (no trailing newline). */
export function exportHeaderLine(header: ExportHeader): string {
  // Property order is the line's field order: `kind` first, as the format page specifies.
  return JSON.stringify({
    kind: 'header',
    format: EXPORT_FORMAT,
    tenantId: header.tenantId,
    generatedAt: header.generatedAt,
    from: header.from,
    to: header.to,
    complete: header.complete,
    publicKeys: header.publicKeys.map((pk) => ({ keyId: publicKeyId(pk), publicKey: toBase64(pk) })),
  });
}

/**
 * An NDJSON entry line (no trailing newline). `entry` is the decoded canonical bytes for people
 * and tools; when the stored bytes do not decode (a damaged or tampered row) it is null and the
 * line is still written, so the export still reaches the verifier, which reports that seq.
 */
export function exportEntryLine(row: StoredEntry): string {
  requireHash(row.prevHash, `entry ${row.seq} prevHash`);
  requireHash(row.hash, `entry ${row.seq} hash`);
  let entry: LedgerEntryV1 | null;
  try {
    entry = decodeEntry(row.canonical);
  } catch {
    entry = null;
  }
  return JSON.stringify({
    kind: 'entry',
    seq: row.seq,
    prevHash: toHex(row.prevHash),
    hash: toHex(row.hash),
    canonical: toBase64(row.canonical),
    ...(row.columns ? { columns: row.columns } : {}),
    entry,
  });
}

/**
 * An NDJSON checkpoint line (no trailing newline) from a stored checkpoint (the shape
 * signCheckpoint returns). The fields are written as stored, not re-derived from `canonical`,
 * so a verifier can detect a row whose columns and signed bytes disagree.
 */
export function exportCheckpointLine(cp: SignedCheckpoint): string {
  return JSON.stringify({
    kind: 'checkpoint',
    tenantId: cp.fields.tenantId,
    seq: cp.fields.seq,
    headHash: cp.fields.headHash,
    signedAt: cp.fields.signedAt,
    keyId: cp.fields.keyId,
    signature: toBase64(cp.signature),
    canonical: toBase64(cp.canonical),
  });
}

// ---- CSV (a human-readable view; the NDJSON export is what gets verified) ----

export const CSV_COLUMNS = [
  'seq',
  'recordedAt',
  'occurredAt',
  'type',
  'actorType',
  'actorId',
  'actorIp',
  'resourceType',
  'resourceId',
  'purpose',
  'eventId',
  'prevHash',
  'hash',
] as const;

/** RFC 4180 line terminator: join csvHeader() and csvEntryRow() results with it. */
export const CSV_LINE_END = '\r\n';

// A spreadsheet evaluates a cell that starts with one of these as a formula (OWASP "CSV
// injection"); event fields such as type or resource id come from callers and may be hostile.
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One CSV cell: formula guard first, then RFC 4180 quoting. null/undefined is an empty cell. */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The CSV header row (no line terminator). */
export function csvHeader(): string {
  return CSV_COLUMNS.join(',');
}

/**
 * One CSV row (no line terminator) for a stored entry. Throws LedgerFormatError when the stored
 * canonical bytes do not decode: a CSV row cannot say "damaged" without looking like data.
 */
export function csvEntryRow(row: StoredEntry): string {
  let e: LedgerEntryV1;
  try {
    e = decodeEntry(row.canonical);
  } catch (err) {
    throw new LedgerFormatError(`entry ${row.seq}: stored canonical bytes do not decode`, { cause: err });
  }
  const cells: Record<(typeof CSV_COLUMNS)[number], string | number | null | undefined> = {
    seq: row.seq,
    recordedAt: e.recordedAt,
    occurredAt: e.occurredAt,
    type: e.type,
    actorType: e.actor.type,
    actorId: e.actor.id,
    actorIp: e.actor.ip,
    resourceType: e.resource.type,
    resourceId: e.resource.id,
    purpose: e.purpose,
    eventId: e.eventId,
    prevHash: toHex(row.prevHash),
    hash: toHex(row.hash),
  };
  return CSV_COLUMNS.map((c) => csvCell(cells[c])).join(',');
}
