// Signed checkpoints: an Ed25519 signature over (tenant, seq, head hash, time), on a schedule
// for every tenant whose chain moved, and on demand. An outside party that keeps copies can
// later prove the ledger was not rewritten behind them.
import { publicKeyId, toHex, type SigningKeyPair } from '@flow8/crypto';
import { setTenant, withTenant, withTransaction, type Pool, type PoolClient } from '@flow8/db';
import { signCheckpoint, type SignedCheckpoint } from '@flow8/ledger';
import type { Logger } from '@flow8/telemetry';
import type { AuditMetrics } from '../../metrics';

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
  start(intervalMs: number): void;
  stop(): void;
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
  now?: () => Date;
}): CheckpointService {
  const now = deps.now ?? (() => new Date());
  const keyId = publicKeyId(deps.keyPair.publicKey);
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;

  async function checkpointIn(client: PoolClient, tenantId: string): Promise<StoredCheckpoint | null> {
    await setTenant(client, tenantId);
    const head = await client.query<{ seq: string; hash: Buffer }>(
      'SELECT seq, hash FROM ledger_heads WHERE tenant_id = $1',
      [tenantId],
    );
    const h = head.rows[0];
    if (!h || Number(h.seq) === 0) return null;
    const last = await client.query<{ seq: string }>(
      'SELECT seq FROM ledger_checkpoints WHERE tenant_id = $1 AND key_id = $2 ORDER BY seq DESC LIMIT 1',
      [tenantId, keyId],
    );
    if (last.rows[0] && Number(last.rows[0].seq) >= Number(h.seq)) return null;
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
      const cp = await withTenant(deps.pool, tenantId, (client) => checkpointIn(client, tenantId));
      if (cp) deps.metrics.checkpointsSigned('on_demand', 1);
      return cp;
    },
    async checkpointAll() {
      const { rows } = await deps.pool.query<{ tenant_id: string }>(
        'SELECT tenant_id FROM ledger_tenants ORDER BY tenant_id',
      );
      let made = 0;
      for (const { tenant_id } of rows) {
        const cp = await withTransaction(deps.pool, (client) => checkpointIn(client, tenant_id));
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
    start(intervalMs) {
      if (timer) return;
      timer = setInterval(() => {
        if (running) return;
        running = service
          .checkpointAll()
          .then((n) => n > 0 && deps.logger.info({ checkpoints: n }, 'signed checkpoints written'))
          .catch((e: unknown) => {
            deps.metrics.checkpointRoundFailed();
            deps.logger.error({ err: e }, 'scheduled checkpoint round failed');
          })
          .finally(() => {
            running = null;
          });
      }, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
  return service;
}
