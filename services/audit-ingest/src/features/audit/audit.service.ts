// Reading the ledger: query, export, verify, checkpoints. Every read is itself audited: the
// read and its audit event share one transaction (the event goes out through the outbox and
// comes back into this same ledger).
import { Readable } from 'node:stream';
import type { Outbox } from '@flow8/bus';
import type { Actor, EventPayloads } from '@flow8/contracts';
import { constantTimeEqual, toHex } from '@flow8/crypto';
import { withTenant, type Pool, type PoolClient } from '@flow8/db';
import { decodeSeqCursor, encodeSeqCursor } from '@flow8/http';
import {
  createChainVerifier,
  CSV_LINE_END,
  csvEntryRow,
  csvHeader,
  chainHash,
  decodeEntry,
  exportCheckpointLine,
  exportEntryLine,
  exportHeaderLine,
  type LedgerEntryV1,
  type VerifyResult,
} from '@flow8/ledger';
import type { Logger } from '@flow8/telemetry';
import type { AuditMetrics } from '../../metrics';
import { listCheckpointsIn, type CheckpointService } from '../checkpoints/checkpoint.service';
import { entryRange, head, lastStoredSeq, queryEntries, seqRangeForTime, type EntryFilter } from './audit.repo';

export interface Caller {
  tenantId: string;
  actor: Actor;
}

export interface AuditEventView {
  seq: number;
  eventId: string;
  type: string;
  occurredAt: string;
  recordedAt: string;
  actor: { type: string; id: string; ip?: string | null };
  resource: { type: string; id: string };
  purpose: string | null;
  payload: Record<string, unknown>;
  hash: string;
}

const PAGE = 1000;

/** The entry a row's canonical bytes hold, if they decode and hash to the row's hash. */
function verifiedEntry(r: { prevHash: Uint8Array; hash: Uint8Array; canonical: Uint8Array }): LedgerEntryV1 | null {
  if (r.prevHash.byteLength !== 32 || !constantTimeEqual(chainHash(r.prevHash, r.canonical), r.hash)) return null;
  try {
    return decodeEntry(r.canonical);
  } catch {
    return null;
  }
}

/** The search filter, applied to what the hashed bytes say (the SQL applied it to the columns). */
function matches(e: LedgerEntryV1, f: EntryFilter): boolean {
  const at = Date.parse(e.occurredAt);
  return (
    (f.type === undefined || e.type === f.type) &&
    (f.actorId === undefined || e.actor.id === f.actorId) &&
    (f.resourceType === undefined || e.resource.type === f.resourceType) &&
    (f.resourceId === undefined || e.resource.id === f.resourceId) &&
    (f.from === undefined || at >= Date.parse(f.from)) &&
    (f.to === undefined || at < Date.parse(f.to))
  );
}

export function createAuditService(deps: {
  pool: Pool;
  outbox: Outbox;
  checkpoints: CheckpointService;
  trustedPublicKeys: Uint8Array[];
  metrics: Pick<AuditMetrics, 'verified'>;
  logger?: Logger;
}) {
  const { pool, outbox } = deps;

  // The reads of the ledger are themselves recorded, all against the tenant's log, for compliance review.
  function audit<
    T extends 'audit.log.queried' | 'audit.log.exported' | 'audit.chain.verified' | 'audit.checkpoints.read',
  >(client: PoolClient, caller: Caller, type: T, payload: EventPayloads[T]) {
    return outbox.emit(client, {
      type,
      tenantId: caller.tenantId,
      actor: caller.actor,
      resource: { type: 'audit_log', id: caller.tenantId },
      payload,
      purpose: 'compliance review',
    });
  }

  /**
   * Verifies the tenant's chain from what cannot be rewritten unnoticed: the entries themselves
   * (their hashes, links and indexed columns; a missing row or a dropped partition is a gap) and
   * the signed checkpoints (under the configured trusted keys, never the keys table), all in the
   * caller's snapshot. The head row is mutable and only a witness: when it disagrees with the
   * chain, that is reported too — but a truncation it agrees with is caught by the newest
   * checkpoint, and one that the stored checkpoints miss only by checkpoints kept outside
   * (the offline verifier's --checkpoints).
   */
  async function verifyIn(client: PoolClient, tenantId: string): Promise<VerifyResult> {
    const verifier = createChainVerifier({ tenantId, trustedPublicKeys: deps.trustedPublicKeys, complete: true });
    const h = await head(client, tenantId);
    let next = 1;
    let lastSeq = 0;
    for (;;) {
      const rows = await entryRange(client, tenantId, next, Number.MAX_SAFE_INTEGER, PAGE);
      for (const r of rows) verifier.entry(r);
      if (rows.length > 0) lastSeq = rows[rows.length - 1]!.seq;
      if (rows.length < PAGE) break;
      next = lastSeq + 1;
    }
    for (const cp of await listCheckpointsIn(client, tenantId)) verifier.checkpoint(cp);
    const result = verifier.result();
    if (!result.ok) return result;
    const headSeq = h?.seq ?? 0;
    if (headSeq !== lastSeq || (h && result.head?.hash !== toHex(h.hash))) {
      return {
        ...result,
        ok: false,
        // Entries missing after the chain's end, entries beyond the head, or a head hash that differs.
        firstBadSeq: headSeq > lastSeq ? lastSeq + 1 : headSeq < lastSeq ? headSeq + 1 : lastSeq,
        reason: `chain ends at seq ${lastSeq} but the ledger head is seq ${headSeq}`,
      };
    }
    return result;
  }

  function verifyAndRecord(caller: Caller): Promise<VerifyResult> {
    // One snapshot for the head and the entries: under READ COMMITTED each statement sees the
    // latest commits, so an entry appended between reading the head and reading the chain made
    // a healthy ledger report "chain ends at seq n+1 but the ledger head is seq n".
    return withTenant(
      pool,
      caller.tenantId,
      async (client) => {
        const result = await verifyIn(client, caller.tenantId);
        await audit(client, caller, 'audit.chain.verified', {
          ok: result.ok,
          checked: result.checked,
          firstBadSeq: result.firstBadSeq,
        });
        return result;
      },
      { isolation: 'repeatable read' },
    );
  }

  return {
    async query(caller: Caller, filter: EntryFilter & { limit: number; cursor?: string }) {
      const beforeSeq = filter.cursor ? decodeSeqCursor(filter.cursor) : undefined;
      return withTenant(pool, caller.tenantId, async (client) => {
        const rows = await queryEntries(client, caller.tenantId, { ...filter, beforeSeq }, filter.limit + 1);
        const page = rows.slice(0, filter.limit);
        // Rows are found through their indexed columns but shown from their hashed bytes — and
        // only when those bytes hash to the row's hash and themselves match the filter. A column
        // changed behind the ledger's back can therefore never attribute an entry to someone
        // else, nor move it into another time window; verify names the row.
        const items: AuditEventView[] = [];
        let leftOut = 0;
        for (const r of page) {
          const e = verifiedEntry(r);
          if (!e || !matches(e, filter)) {
            leftOut++;
            continue;
          }
          items.push({
            seq: e.seq,
            eventId: e.eventId,
            type: e.type,
            occurredAt: e.occurredAt,
            recordedAt: e.recordedAt,
            actor: e.actor,
            resource: e.resource,
            purpose: e.purpose,
            payload: e.payload,
            hash: toHex(r.hash),
          });
        }
        if (leftOut > 0) {
          deps.logger?.warn(
            { tenantId: caller.tenantId, leftOut },
            'ledger rows left out of a search: their stored bytes or indexed columns disagree (GET /v1/audit/verify names them)',
          );
        }
        const { limit: _l, cursor: _c, ...filters } = filter;
        await audit(client, caller, 'audit.log.queried', {
          filters: Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined)) as Record<
            string,
            string
          >,
          returned: items.length,
        });
        const last = page[page.length - 1];
        return { items, nextCursor: rows.length > filter.limit && last ? encodeSeqCursor(last.seq) : null };
      });
    },

    /** Streams the export. The audit event is committed before the first byte is sent. */
    async export(caller: Caller, opts: { format: 'ndjson' | 'csv'; from?: string; to?: string }): Promise<Readable> {
      const filtered = opts.from !== undefined || opts.to !== undefined;
      // Checkpoints first, the range after: every checkpoint read then lies within the entries
      // stored by the time the range is read (entries only grow), so a healthy ledger never
      // looks truncated. A complete export carries EVERY checkpoint, the newest included: an
      // export that ends before one of them was cut short (rows and head row removed alike).
      const cps = opts.format === 'ndjson' ? await deps.checkpoints.list(caller.tenantId) : [];
      const { range, keys } = await withTenant(pool, caller.tenantId, async (client) => {
        // A complete export runs to the last stored entry — the entries, not the mutable head row.
        const last = filtered ? 0 : await lastStoredSeq(client, caller.tenantId);
        const range = filtered
          ? await seqRangeForTime(client, caller.tenantId, opts.from, opts.to)
          : last > 0
            ? { first: 1, last }
            : null;
        await audit(client, caller, 'audit.log.exported', {
          format: opts.format,
          from: opts.from ?? null,
          to: opts.to ?? null,
        });
        return { range, keys: await deps.checkpoints.publicKeys() };
      });
      const tenantId = caller.tenantId;
      // A partial export carries the checkpoints it can be compared with: its range and its anchor.
      const exportedCheckpoints = filtered
        ? cps.filter((cp) => range !== null && cp.seq >= range.first - 1 && cp.seq <= range.last)
        : cps;
      async function* lines(): AsyncGenerator<string> {
        if (opts.format === 'csv') yield csvHeader() + CSV_LINE_END;
        else {
          yield (
            exportHeaderLine({
              tenantId,
              generatedAt: new Date().toISOString(),
              from: filtered ? (range?.first ?? null) : null,
              to: filtered ? (range?.last ?? null) : null,
              complete: !filtered,
              publicKeys: keys.map((k) => k.publicKey),
            }) + '\n'
          );
        }
        if (range) {
          let next = range.first;
          while (next <= range.last) {
            const rows = await withTenant(pool, tenantId, (c) => entryRange(c, tenantId, next, range.last, PAGE));
            if (rows.length === 0) break;
            let chunk = '';
            for (const r of rows)
              chunk += opts.format === 'csv' ? csvEntryRow(r) + CSV_LINE_END : exportEntryLine(r) + '\n';
            yield chunk;
            next = rows[rows.length - 1]!.seq + 1;
          }
        }
        if (opts.format === 'ndjson') {
          for (const cp of exportedCheckpoints) {
            yield (
              exportCheckpointLine({
                fields: { tenantId, seq: cp.seq, headHash: cp.headHash, signedAt: cp.signedAt, keyId: cp.keyId },
                canonical: cp.canonical,
                signature: cp.signature,
              }) + '\n'
            );
          }
        }
      }
      return Readable.from(lines());
    },

    async verify(caller: Caller): Promise<VerifyResult> {
      const result = await verifyAndRecord(caller);
      // After the commit, so a verification whose audit event was rolled back is not counted.
      deps.metrics.verified(result.ok);
      return result;
    },

    async listCheckpoints(caller: Caller) {
      const items = await deps.checkpoints.list(caller.tenantId);
      const keys = await deps.checkpoints.publicKeys();
      await withTenant(pool, caller.tenantId, (client) =>
        audit(client, caller, 'audit.checkpoints.read', { returned: items.length }),
      );
      return {
        items: items.map((c) => ({
          seq: c.seq,
          headHash: c.headHash,
          signedAt: c.signedAt,
          keyId: c.keyId,
          signature: Buffer.from(c.signature).toString('base64'),
          canonical: Buffer.from(c.canonical).toString('base64'),
        })),
        publicKeys: keys.map((k) => ({ keyId: k.keyId, publicKey: Buffer.from(k.publicKey).toString('base64') })),
      };
    },

    async createCheckpoint(caller: Caller) {
      const cp = await deps.checkpoints.checkpointTenant(caller.tenantId);
      return cp;
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
