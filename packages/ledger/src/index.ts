export { LedgerFormatError } from './errors';
export { GENESIS_HASH, ENTRY_VERSION, entryCanonical, chainHash, decodeEntry } from './entry';
export type { EntryFields, LedgerEntryV1, LedgerActor, LedgerResource } from './entry';
export { CHECKPOINT_KIND, checkpointCanonical, decodeCheckpoint, signCheckpoint } from './checkpoint';
export type { CheckpointFields, LedgerCheckpointV1, SignedCheckpoint } from './checkpoint';
export {
  EXPORT_FORMAT,
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
export { verifyExportStream } from './stream';
export type { ExportVerifyResult } from './stream';
