// Signed checkpoints: an Ed25519 signature over (tenant, seq, head hash, time), on a schedule
// for every tenant whose chain moved, and on demand. An outside party that keeps copies can
// later prove the ledger was not rewritten behind them.
import { publicKeyId, toHex, type SigningKeyPair } from '@flow8/crypto';
import { setTenant, withTenant, withTransaction, type Pool, type PoolClient } from '@flow8/db';
import { AppError } from '@flow8/http';
import { createChainVerifier, signCheckpoint, type SignedCheckpoint } from '@flow8/ledger';
import { periodicJob, type PeriodicJob } from '@flow8/runtime';
import type { Logger } from '@flow8/telemetry';
import type { AuditMetrics } from '../../metrics';
import { entryRange } from '../audit/audit.repo';

const PAGE = 1000;
// The head row, the stored checkpoints and the entries read from one snapshot: a checkpoint
// signed meanwhile by another round must not look like a head that fell behind.
const SNAPSHOT = { isolation: 'repeatable read' } as const;

/** The chain does not lead from the newest signed checkpoint to the head row: nothing is signed. */
export class UnverifiedHeadError extends AppError {
  constructor(readonly problem: string) {
    super(
      'CONFLICT',
      'The ledger does not verify from its newest signed checkpoint to its head, so no checkpoint was signed; GET /v1/audit/verify names the problem',
    );
    this.name = 'UnverifiedHeadError';
  }
}

export interface StoredCheckpoint {
  tenantId: string;
  seq: number;
  headHash: string;
  signedAt: string;
  keyId: string;
  canonical: Uint8Array;
  signature: Uint8Array;
}

export interface CheckpointService {
  /** Registers the signing key's public half (idempotent). Call once at start-up. */
  registerKey(): Promise<void>;
  /** Checkpoints the tenant's current head unless the newest checkpoint already covers it. */
  checkpointTenant(tenantId: string): Promise<StoredCheckpoint | null>;
  /** One scheduled round over every tenant with a chain. */
  checkpointAll(): Promise<number>;
  list(tenantId: string, opts?: { fromSeq?: number; toSeq?: number }): Promise<StoredCheckpoint[]>;
  publicKeys(): Promise<Array<{ keyId: string; publicKey: Uint8Array }>>;
  /**
   * The scheduled rounds (`checkpointAll` every `intervalMs`). Leader-only: a checkpoint is
   * shared state that vouches for the chain, so one replica — the holder of the job's advisory
   * lock on this database — signs; the others skip until it goes away.
   */
  readonly job: PeriodicJob;
}

function toStored(cp: SignedCheckpoint): StoredCheckpoint {
  return { ...cp.fields, canonical: cp.canonical, signature: cp.signature };
}

/** A tenant's stored checkpoints in seq order, read in the caller's transaction (its snapshot). */
export async function listCheckpointsIn(
  client: PoolClient,
  tenantId: string,
  opts: { fromSeq?: number; toSeq?: number } = {},
): Promise<StoredCheckpoint[]> {
  const { rows } = await client.query<{
    seq: string;
    head_hash: Buffer;
    signed_at: Date;
    key_id: string;
    canonical: Buffer;
    signature: Buffer;
  }>(
    `SELECT seq, head_hash, signed_at, key_id, canonical, signature FROM ledger_checkpoints
     WHERE tenant_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq, id`,
    [tenantId, opts.fromSeq ?? 0, opts.toSeq ?? Number.MAX_SAFE_INTEGER],
  );
  return rows.map((r) => ({
    tenantId,
    seq: Number(r.seq),
    headHash: toHex(r.head_hash),
    signedAt: r.signed_at.toISOString(),
    keyId: r.key_id,
    canonical: r.canonical,
    signature: r.signature,
  }));
}

export function createCheckpointService(deps: {
  pool: Pool;
  keyPair: SigningKeyPair;
  logger: Logger;
  metrics: Pick<AuditMetrics, 'checkpointsSigned' | 'checkpointRoundFailed'>;
  /** Keys whose checkpoints are trusted (the signing key's included); never the keys table. */
  trustedPublicKeys: Uint8Array[];
  /** Time between scheduled rounds (AUDIT_CHECKPOINT_INTERVAL). */
  intervalMs: number;
  now?: () => Date;
}): CheckpointService {
  const now = deps.now ?? (() => new Date());
  const keyId = publicKeyId(deps.keyPair.publicKey);

  /**
   * Why the head row must not be signed, or null: a signature vouches for the whole chain, so
   * the signer does not take the (mutable) head row's word. The chain must lead from the newest
   * signed checkpoint (under a trusted key; from seq 1 when there is none) to exactly the head:
   * every hash, link and indexed column in between verified. Otherwise signing would bless a
   * cut-off tail or a rewrite that the earlier checkpoints still contradict.
   */
  async function headProblem(
    client: PoolClient,
    tenantId: string,
    head: { seq: number; hash: string },
    newest: StoredCheckpoint | undefined,
  ): Promise<string | null> {
    if (newest && newest.seq > head.seq) {
      return `the head row (seq ${head.seq}) is behind the newest signed checkpoint (seq ${newest.seq})`;
    }
    const verifier = createChainVerifier({
      tenantId,
      trustedPublicKeys: deps.trustedPublicKeys,
      complete: newest === undefined,
    });
    if (newest) verifier.checkpoint(newest);
    let next = newest?.seq ?? 1;
    for (;;) {
      const rows = await entryRange(client, tenantId, next, head.seq, PAGE);
      for (const r of rows) verifier.entry(r);
      if (rows.length < PAGE || verifier.failed) break;
      next = rows[rows.length - 1]!.seq + 1;
    }
    const r = verifier.result();
    if (!r.ok) return `at seq ${r.firstBadSeq ?? '?'}: ${r.reason}`;
    if (r.head?.seq !== head.seq || r.head.hash !== head.hash) {
      return `the head row (seq ${head.seq}) disagrees with the chain, which ends at seq ${r.head?.seq ?? 0}`;
    }
    return null;
  }

  async function checkpointIn(client: PoolClient, tenantId: string): Promise<StoredCheckpoint | null> {
    await setTenant(client, tenantId);
    const head = await client.query<{ seq: string; hash: Buffer }>(
      'SELECT seq, hash FROM ledger_heads WHERE tenant_id = $1',
      [tenantId],
    );
    const h = head.rows[0];
    if (!h || Number(h.seq) === 0) return null;
    const stored = await listCheckpointsIn(client, tenantId);
    const newest = stored.at(-1);
    const lastOwn = stored.filter((c) => c.keyId === keyId).at(-1);
    const current = { seq: Number(h.seq), hash: toHex(h.hash) };
    if (lastOwn && lastOwn.seq >= current.seq && !(newest && newest.seq > current.seq)) return null;
    const problem = await headProblem(client, tenantId, current, newest);
    if (problem) throw new UnverifiedHeadError(problem);
    const cp = signCheckpoint(
      { tenantId, seq: Number(h.seq), headHash: toHex(h.hash), signedAt: now().toISOString() },
      deps.keyPair,
    );
    await client.query(
      `INSERT INTO ledger_checkpoints (tenant_id, seq, head_hash, signed_at, key_id, canonical, signature)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        tenantId,
        cp.fields.seq,
        h.hash,
        cp.fields.signedAt,
        keyId,
        Buffer.from(cp.canonical),
        Buffer.from(cp.signature),
      ],
    );
    return toStored(cp);
  }

  const service: CheckpointService = {
    async registerKey() {
      await deps.pool.query(
        'INSERT INTO ledger_signing_keys (key_id, public_key) VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING',
        [keyId, Buffer.from(deps.keyPair.publicKey)],
      );
    },
    async checkpointTenant(tenantId) {
      const cp = await withTenant(deps.pool, tenantId, (client) => checkpointIn(client, tenantId), SNAPSHOT);
      if (cp) deps.metrics.checkpointsSigned('on_demand', 1);
      return cp;
    },
    async checkpointAll() {
      const { rows } = await deps.pool.query<{ tenant_id: string }>(
        // Every company with a chain: ids only, through the one definer function that may list them.
        'SELECT tenant_id FROM ledger_tenant_ids() AS t(tenant_id)',
      );
      let made = 0;
      for (const { tenant_id } of rows) {
        let cp: StoredCheckpoint | null;
        try {
          cp = await withTransaction(deps.pool, (client) => checkpointIn(client, tenant_id), SNAPSHOT);
        } catch (e) {
          if (!(e instanceof UnverifiedHeadError)) throw e;
          // One tenant's damaged chain must not stop the others' checkpoints.
          deps.metrics.checkpointRoundFailed();
          deps.logger.error(
            { tenantId: tenant_id, problem: e.problem },
            'checkpoint not signed: the chain does not verify from the newest checkpoint to the head',
          );
          continue;
        }
        if (cp) {
          made += 1;
          deps.metrics.checkpointsSigned('scheduled', 1);
        }
      }
      return made;
    },
    async list(tenantId, opts = {}) {
      return withTenant(deps.pool, tenantId, (client) => listCheckpointsIn(client, tenantId, opts));
    },
    async publicKeys() {
      const { rows } = await deps.pool.query<{ key_id: string; public_key: Buffer }>(
        'SELECT key_id, public_key FROM ledger_signing_keys ORDER BY created_at',
      );
      return rows.map((r) => ({ keyId: r.key_id, publicKey: new Uint8Array(r.public_key) }));
    },
    job: periodicJob({
      name: 'audit.checkpoints',
      everyMs: deps.intervalMs,
      // The first round one interval after start, as before: start-up is busy enough.
      runAtStart: false,
      leader: { pool: deps.pool },
      logger: deps.logger,
      async run() {
        try {
          const n = await service.checkpointAll();
          if (n > 0) deps.logger.info({ checkpoints: n }, 'signed checkpoints written');
        } catch (e) {
          deps.metrics.checkpointRoundFailed();
          throw e;
        }
      },
    }),
  };
  return service;
}
