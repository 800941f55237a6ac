import { canonicalBytes, sha256 } from '@flow8/crypto';
import { parseCanonicalObject } from './canonical-json';
import { LedgerFormatError } from './errors';
import {
  checkExactKeys,
  isRecord,
  requireHash,
  requireMatch,
  requireNullableString,
  requireSeq,
  requireString,
  UTC_MILLIS_RE,
} from './validate';

/** prevHash of seq 1 in every tenant's chain. */
export const GENESIS_HASH: Uint8Array = new Uint8Array(32);

export const ENTRY_VERSION = 1;

/** Copied from the event envelope as received; extra properties are kept (and hashed). */
export type LedgerActor = { type: string; id: string; ip?: string | null };
/** Copied from the event envelope as received; extra properties are kept (and hashed). */
export type LedgerResource = { type: string; id: string };

export type EntryFields = {
  tenantId: string;
  seq: number;
  eventId: string;
  type: string;
  /** From the envelope, as received. */
  occurredAt: string;
  /** Set by audit-ingest: UTC, millisecond precision (`2026-11-30T07:50:00.456Z`). */
  recordedAt: string;
  actor: LedgerActor;
  resource: LedgerResource;
  purpose: string | null;
  traceparent: string | null;
  payload: Record<string, unknown>;
};

export type LedgerEntryV1 = { v: 1 } & EntryFields;

const ENTRY_KEYS = [
  'v',
  'tenantId',
  'seq',
  'eventId',
  'type',
  'occurredAt',
  'recordedAt',
  'actor',
  'resource',
  'purpose',
  'traceparent',
  'payload',
] as const;

function validateEntry(obj: Record<string, unknown>, what: string): LedgerEntryV1 {
  if (obj.v !== ENTRY_VERSION) {
    throw new LedgerFormatError(`${what}: unsupported version v=${JSON.stringify(obj.v)} (expected 1)`);
  }
  checkExactKeys(obj, ENTRY_KEYS, what);
  requireString(obj, 'tenantId', what);
  requireSeq(obj, 'seq', what);
  requireString(obj, 'eventId', what);
  requireString(obj, 'type', what);
  requireString(obj, 'occurredAt', what);
  requireMatch(obj, 'recordedAt', UTC_MILLIS_RE, what, 'UTC with millisecond precision');
  const { actor, resource, payload } = obj;
  if (!isRecord(actor)) throw new LedgerFormatError(`${what}: "actor" must be an object`);
  requireString(actor, 'type', `${what} actor`);
  requireString(actor, 'id', `${what} actor`);
  if (actor.ip !== undefined) requireNullableString(actor, 'ip', `${what} actor`);
  if (!isRecord(resource)) throw new LedgerFormatError(`${what}: "resource" must be an object`);
  requireString(resource, 'type', `${what} resource`);
  requireString(resource, 'id', `${what} resource`);
  requireNullableString(obj, 'purpose', what);
  requireNullableString(obj, 'traceparent', what);
  if (!isRecord(payload)) throw new LedgerFormatError(`${what}: "payload" must be an object`);
  return obj as LedgerEntryV1;
}

/**
 * The canonical bytes of a v1 entry: RFC 8785 JSON of the fields plus `v: 1`. Store them
 * verbatim; never rebuild them from columns to recompute a hash. Throws LedgerFormatError for
 * fields a v1 entry cannot hold, and CanonicalizationError for a payload that is not JSON data.
 */
export function entryCanonical(fields: EntryFields): Uint8Array {
  // Built field by field so a caller's extra top-level properties never reach the hash.
  const entry: LedgerEntryV1 = {
    v: ENTRY_VERSION,
    tenantId: fields.tenantId,
    seq: fields.seq,
    eventId: fields.eventId,
    type: fields.type,
    occurredAt: fields.occurredAt,
    recordedAt: fields.recordedAt,
    actor: fields.actor,
    resource: fields.resource,
    purpose: fields.purpose,
    traceparent: fields.traceparent,
    payload: fields.payload,
  };
  validateEntry(entry, 'ledger entry');
  return canonicalBytes(entry);
}

/** hash(n) = SHA-256(prevHash(n) ‖ canonical(n)); 32 raw bytes. */
export function chainHash(prevHash: Uint8Array, canonical: Uint8Array): Uint8Array {
  requireHash(prevHash, 'prevHash');
  return sha256(prevHash, canonical);
}

/**
 * The fields audit-ingest copies out of the canonical bytes into columns of its own, so that
 * searches can use indexes. Only the canonical bytes are hashed, so the verifier checks that
 * every copy agrees with them: a copy changed behind the ledger's back would hide an entry from
 * a search, or attribute it to someone else. Timestamps are UTC with microseconds
 * (`2026-11-30T07:50:00.123000Z`), the precision the columns keep.
 */
export type IndexedColumns = {
  eventId: string;
  type: string;
  actorType: string;
  actorId: string;
  resourceType: string;
  resourceId: string;
  occurredAt: string;
  recordedAt: string;
};

export const INDEXED_COLUMNS = [
  'eventId',
  'type',
  'actorType',
  'actorId',
  'resourceType',
  'resourceId',
  'occurredAt',
  'recordedAt',
] as const satisfies ReadonlyArray<keyof IndexedColumns>;

/** `…:00.123Z` → `…:00.123000Z`; any other form is returned as is (and will not match a column). */
function toMicros(iso: string): string {
  return UTC_MILLIS_RE.test(iso) ? `${iso.slice(0, -1)}000Z` : iso;
}

/** What each indexed column must hold for an entry with these fields. */
export function indexedColumnsOf(e: Omit<EntryFields, 'seq' | 'tenantId'>): IndexedColumns {
  return {
    eventId: e.eventId,
    type: e.type,
    actorType: e.actor.type,
    actorId: e.actor.id,
    resourceType: e.resource.type,
    resourceId: e.resource.id,
    occurredAt: toMicros(e.occurredAt),
    recordedAt: toMicros(e.recordedAt),
  };
}

/**
 * Decodes stored canonical bytes into the entry they encode. Throws LedgerFormatError when the
 * bytes are not UTF-8 JSON in RFC 8785 form, not version 1, or not a well-formed v1 entry.
 */
export function decodeEntry(canonical: Uint8Array): LedgerEntryV1 {
  return validateEntry(parseCanonicalObject(canonical, 'ledger entry'), 'ledger entry');
}
