/** Bytes or fields that do not follow the v1 ledger format (docs/audit-ledger-format.md). */
export class LedgerFormatError extends Error {
  override readonly name = 'LedgerFormatError';
}
