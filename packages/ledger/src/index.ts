export { LedgerFormatError } from './errors';
export {
  GENESIS_HASH,
  ENTRY_VERSION,
  entryCanonical,
  chainHash,
  decodeEntry,
  INDEXED_COLUMNS,
  indexedColumnsOf,
} from './entry';
export type { EntryFields, LedgerEntryV1, LedgerActor, LedgerResource, IndexedColumns } from './entry';
export { CHECKPOINT_KIND, checkpointCanonical, decodeCheckpoint, signCheckpoint } from './checkpoint';
export type { CheckpointFields, LedgerCheckpointV1, SignedCheckpoint } from './checkpoint';
export {
  EXPORT_FORMAT,
  EXPORT_FORMATS,
  exportHeaderLine,
  exportEntryLine,
  exportCheckpointLine,
  CSV_COLUMNS,
  CSV_LINE_END,
  csvCell,
  csvHeader,
  csvEntryRow,
} from './export';
export type { StoredEntry, ExportHeader } from './export';
export { createChainVerifier } from './verifier';
export type { VerifyResult, ChainVerifier, ChainVerifierOptions, CheckpointRow } from './verifier';
export { verifyExportStream, parseCheckpointFile } from './stream';
export type { ExportVerifyResult } from './stream';
