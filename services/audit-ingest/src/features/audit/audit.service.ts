// Reading the ledger: query, export, verify, checkpoints. Every read is itself audited: the
// read and its audit event share one transaction (the event goes out through the outbox and
// comes back into this same ledger).
import { Readable } from 'node:stream';
import type { Outbox } from '@flow8/bus';
import { buildEvent, type Actor } from '@flow8/contracts';
import { toHex } from '@flow8/crypto';
import { withTenant, type Pool, type PoolClient } from '@flow8/db';
import { AppError } from '@flow8/http';
import {
  createChainVerifier,
  CSV_LINE_END,
  csvEntryRow,
  csvHeader,
  decodeEntry,
  exportCheckpointLine,
  exportEntryLine,
  exportHeaderLine,
  type VerifyResult,
} from '@flow8/ledger';
import { currentTraceparent } from '@flow8/telemetry';
import type { AuditMetrics } from '../../metrics';
import type { CheckpointService } from '../checkpoints/checkpoint.service';
import { entryRange, head, queryEntries, seqRangeForTime, type EntryFilter } from './audit.repo';

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

export function encodeCursor(seq: number): string {
  return Buffer.from(JSON.stringify({ s: seq })).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s?: unknown };
    if (typeof v.s === 'number' && Number.isSafeInteger(v.s) && v.s > 0) return v.s;
  } catch {
    // fall through
  }
  throw new AppError('BAD_REQUEST', 'cursor is not valid');
}

export function createAuditService(deps: {
  pool: Pool;
  outbox: Outbox;
  checkpoints: CheckpointService;
  trustedPublicKeys: Uint8Array[];
  metrics: Pick<AuditMetrics, 'verified'>;
}) {
  const { pool, outbox } = deps;

  function audit<
    T extends 'audit.log.queried' | 'audit.log.exported' | 'audit.chain.verified' | 'audit.checkpoints.read',
  >(client: PoolClient, caller: Caller, type: T, payload: Parameters<typeof buildEvent<T>>[0]['payload']) {
    return outbox.add(
      client,
      buildEvent({
        type,
        tenantId: caller.tenantId,
        actor: caller.actor,
        resource: { type: 'audit_log', id: caller.tenantId },
        payload,
        purpose: 'compliance review',
        traceparent: currentTraceparent() ?? null,
      }),
    );
  }

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
    for (const cp of await deps.checkpoints.list(tenantId)) {
      verifier.checkpoint(cp);
    }
    const result = verifier.result();
    // The head row is a second witness: rows missing at the end of the chain (or an entry
    // whose hash differs from the recorded head) are caught even without a checkpoint.
    if (result.ok && h && (h.seq !== lastSeq || result.head?.hash !== toHex(h.hash))) {
      return {
        ...result,
        ok: false,
        firstBadSeq: Math.min(lastSeq + 1, h.seq),
        reason: `chain ends at seq ${lastSeq} but the ledger head is seq ${h.seq}`,
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
      const beforeSeq = filter.cursor ? decodeCursor(filter.cursor) : undefined;
      return withTenant(pool, caller.tenantId, async (client) => {
        const rows = await queryEntries(client, caller.tenantId, { ...filter, beforeSeq }, filter.limit + 1);
        const page = rows.slice(0, filter.limit);
        const items: AuditEventView[] = page.map((r) => {
          const e = decodeEntry(r.canonical);
          return {
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
          };
        });
        const { limit: _l, cursor: _c, ...filters } = filter;
        await audit(client, caller, 'audit.log.queried', {
          filters: Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined)) as Record<
            string,
            string
          >,
          returned: items.length,
        });
        const last = page[page.length - 1];
        return { items, nextCursor: rows.length > filter.limit && last ? encodeCursor(last.seq) : null };
      });
    },

    /** Streams the export. The audit event is committed before the first byte is sent. */
    async export(caller: Caller, opts: { format: 'ndjson' | 'csv'; from?: string; to?: string }): Promise<Readable> {
      const filtered = opts.from !== undefined || opts.to !== undefined;
      const { range, keys } = await withTenant(pool, caller.tenantId, async (client) => {
        const h = await head(client, caller.tenantId);
        const range = filtered
          ? await seqRangeForTime(client, caller.tenantId, opts.from, opts.to)
          : h
            ? { first: 1, last: h.seq }
            : null;
        await audit(client, caller, 'audit.log.exported', {
          format: opts.format,
          from: opts.from ?? null,
          to: opts.to ?? null,
        });
        return { range, keys: await deps.checkpoints.publicKeys() };
      });
      const tenantId = caller.tenantId;
      const checkpoints = deps.checkpoints;
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
        if (!range) return;
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
        if (opts.format === 'ndjson') {
          for (const cp of await checkpoints.list(tenantId, { fromSeq: range.first, toSeq: range.last })) {
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
