// Key rotation and retirement.
//
// - A company's data key (Admin, POST /v1/keys/rotate): a new active key at once; the previous
//   one becomes `retiring` (still opens what it sealed) and a background worker re-encrypts its
//   records in batches, then retires it (its wrapped material destroyed) once nothing needs it.
// - The root key (operator, `rotate-root-key`): every data key is re-wrapped in place under the
//   new ENCRYPTION_KEY; nothing is re-encrypted and nothing stops. The previous root key is
//   retired (POST /internal/v1/keys/retire) once no data key is wrapped under it.
import type { Outbox } from '@flow8/bus';
import type { Actor } from '@flow8/contracts';
import { associatedData, open, seal, sealedKeyId } from '@flow8/crypto';
import { withTenant, withTransaction, type Pool, type Queryable } from '@flow8/db';
import { AppError } from '@flow8/http';
import type { Logger } from '@flow8/telemetry';
import { SECRET_FIELD } from '../credentials/credentials.service';
import { lockTenantKeys, type Keyring } from '../../keyring/keyring';
import {
  activeDataKey,
  dataKeyRefsUnderRoot,
  dataKeysPerRoot,
  keyStatusRows,
  listDataKeys,
  listRootKeys,
  recordsPerDataKey,
  retiringDataKeyRefs,
  type DataKeyRow,
} from '../../keyring/keyring.repo';
import { VAULT_ACTOR, type Access, type Caller } from '../../principal';

export interface DataKeyView {
  id: string;
  version: number;
  status: DataKeyRow['status'];
  rootFingerprint: string | null;
  /** Records still sealed with this key ("how many records still need it"). */
  records: number;
  usedForFields: boolean;
  createdAt: string;
  retiredAt: string | null;
}

const dataKeyView = (k: Omit<DataKeyRow, 'wrapped'>, records: Map<string, number>): DataKeyView => ({
  id: k.id,
  version: k.version,
  status: k.status,
  rootFingerprint: k.rootFingerprint,
  records: records.get(k.id) ?? 0,
  usedForFields: k.usedForFields,
  createdAt: k.createdAt.toISOString(),
  retiredAt: k.retiredAt?.toISOString() ?? null,
});

async function retiringKeys(tx: Queryable, tenantId: string): Promise<DataKeyRow[]> {
  return (await listDataKeys(tx, tenantId)).filter((k) => k.status === 'retiring');
}

export function createKeyService(deps: {
  pool: Pool;
  outbox: Pick<Outbox, 'emit'>;
  keyring: Keyring;
  logger: Logger;
  access: Access;
  batchSize: number;
}) {
  const { pool, outbox, keyring, logger } = deps;

  async function tenantKeys(tenantId: string) {
    return withTenant(pool, tenantId, async (tx) => {
      const keys = await listDataKeys(tx, tenantId);
      const records = await recordsPerDataKey(tx, tenantId);
      const items = keys.map((k) => dataKeyView(k, records));
      const retiring = items.filter((k) => k.status === 'retiring');
      const remaining = retiring.reduce((n, k) => n + k.records, 0);
      return {
        items,
        reencryption: {
          // A retiring key that sealed other services' fields stays (opening them) once its own
          // records are re-encrypted: that is not work in progress here.
          inProgress: retiring.some((k) => k.records > 0 || !k.usedForFields),
          remaining,
          keptForFields: retiring.filter((k) => k.usedForFields).map((k) => k.id),
        },
      };
    });
  }

  /**
   * Re-encrypts up to one batch of records sealed with a retiring key of one company under its
   * active key; retires the key when none remain. Returns the number of records re-encrypted.
   */
  async function reencryptBatch(
    tenantId: string,
    retiringId: string,
    afterId: string,
  ): Promise<{ seen: number; done: number; failed: number; lastId: string }> {
    const out = await withTenant(pool, tenantId, async (tx) => {
      const none = { seen: 0, done: 0, failed: 0, lastId: afterId, retired: null as DataKeyRow | null };
      const old = (await listDataKeys(tx, tenantId)).find((k) => k.id === retiringId);
      if (!old || old.status !== 'retiring') return none;
      const active = await keyring.activeKey(tx, tenantId, VAULT_ACTOR.id);
      const oldKey = keyring.unwrap(old);
      const { rows } = await tx.query<{ credential_id: string; version: number; ciphertext: Buffer }>(
        `SELECT credential_id, version, ciphertext FROM credential_versions
          WHERE tenant_id = $1 AND data_key_id = $2 AND credential_id > $3
          ORDER BY credential_id LIMIT $4 FOR UPDATE SKIP LOCKED`,
        [tenantId, retiringId, afterId, deps.batchSize],
      );
      let done = 0;
      let failed = 0;
      for (const r of rows) {
        const ad = associatedData({ tenantId, recordId: r.credential_id, version: r.version, field: SECRET_FIELD });
        let plaintext: Uint8Array;
        try {
          plaintext = open({
            keys: (id) => (id === old.id ? oldKey : undefined),
            sealed: new Uint8Array(r.ciphertext),
            ad,
          });
        } catch (e) {
          // A record that fails its integrity check is left as it is (and keeps the old key from
          // being retired, visible in the key status); it must not block the others.
          failed += 1;
          logger.error(
            { tenantId, credentialId: r.credential_id, reason: e instanceof Error ? e.message : 'unknown' },
            'record failed its integrity check during re-encryption; left under the retiring key',
          );
          continue;
        }
        const ciphertext = seal({ key: active.key, keyId: Buffer.from(active.id, 'hex'), plaintext, ad });
        plaintext.fill(0);
        await tx.query(
          `UPDATE credential_versions SET ciphertext = $4, data_key_id = $5
            WHERE tenant_id = $1 AND credential_id = $2 AND version = $3`,
          [tenantId, r.credential_id, r.version, Buffer.from(ciphertext), active.id],
        );
        done += 1;
      }
      const lastId = rows[rows.length - 1]?.credential_id ?? afterId;
      const left = await tx.query<{ n: string }>(
        'SELECT count(*)::text AS n FROM credential_versions WHERE tenant_id = $1 AND data_key_id = $2',
        [tenantId, retiringId],
      );
      if (Number(left.rows[0]?.n ?? '0') > 0 || old.usedForFields)
        return { seen: rows.length, done, failed, lastId, retired: null };
      await tx.query(
        `UPDATE data_keys SET status = 'retired', wrapped = NULL, root_fingerprint = NULL, retired_at = now()
          WHERE tenant_id = $1 AND id = $2 AND status = 'retiring'`,
        [tenantId, retiringId],
      );
      await outbox.emit(tx, {
        type: 'vault.key.retired',
        tenantId,
        actor: VAULT_ACTOR,
        resource: { type: 'data_key', id: old.id },
        payload: { dataKeyId: old.id, dataKeyVersion: old.version, reencrypted: done },
      });
      return { seen: rows.length, done, failed, lastId, retired: old };
    });
    if (out.retired) {
      keyring.forget(out.retired.id);
      logger.info({ tenantId, dataKeyId: out.retired.id }, 'data key retired after re-encryption');
    }
    return { seen: out.seen, done: out.done, failed: out.failed, lastId: out.lastId };
  }

  /** One pass of the background re-encryption over every company with a retiring key. */
  async function reencryptPending(): Promise<number> {
    // Ids only, across companies; each key's records are then read and re-sealed in its own
    // company's transaction.
    const pending = await retiringDataKeyRefs(pool);
    let total = 0;
    for (const p of pending) {
      // One pass over the key's records in id order (skipping locked and unopenable ones);
      // the batch that finds nothing left retires the key.
      let afterId = '';
      for (;;) {
        const r = await reencryptBatch(p.tenantId, p.id, afterId);
        total += r.done;
        afterId = r.lastId;
        if (r.seen < deps.batchSize) break;
      }
    }
    return total;
  }

  return {
    tenantKeys,
    reencryptPending,

    async listForTenant(caller: Caller) {
      await deps.access.authorize(caller, 'keys:rotate');
      return tenantKeys(caller.tenantId);
    },

    /**
     * Rotates the company's data key. Idempotent: while a previous rotation is still
     * re-encrypting, answers with its progress instead of starting another.
     */
    async rotateTenantKey(caller: Caller): Promise<{ started: boolean; activeKeyId: string; activeVersion: number }> {
      await deps.access.authorize(caller, 'keys:rotate');
      return withTenant(pool, caller.tenantId, async (tx) => {
        await lockTenantKeys(tx, caller.tenantId);
        const current = await activeDataKey(tx, caller.tenantId);
        const retiring = await retiringKeys(tx, caller.tenantId);
        if (current && retiring.some((k) => !k.usedForFields)) {
          return { started: false, activeKeyId: current.id, activeVersion: current.version };
        }
        if (current) {
          await tx.query(`UPDATE data_keys SET status = 'retiring' WHERE tenant_id = $1 AND id = $2`, [
            caller.tenantId,
            current.id,
          ]);
        }
        const next = await keyring.createDataKey(tx, caller.tenantId, caller.actor.id);
        await outbox.emit(tx, {
          type: 'vault.key.rotated',
          tenantId: caller.tenantId,
          actor: caller.actor,
          resource: { type: 'data_key', id: next.id },
          payload: {
            kind: 'data_key',
            dataKeyId: next.id,
            dataKeyVersion: next.version,
            rootFingerprint: keyring.fingerprint,
            ...(current ? { previousDataKeyId: current.id } : {}),
          },
        });
        return { started: true, activeKeyId: next.id, activeVersion: next.version };
      });
    },

    /** Root fingerprints and data keys with the records that still need each (operator). */
    async status() {
      return withTransaction(pool, async (tx) => {
        const roots = await listRootKeys(tx);
        const keys = await keyStatusRows(tx);
        const records = new Map(keys.map((k) => [k.id, k.records]));
        return {
          configured: { current: keyring.fingerprint, previous: keyring.previousFingerprint },
          rootKeys: roots.map((r) => {
            const wrapping = keys.filter((k) => k.rootFingerprint === r.fingerprint);
            return {
              fingerprint: r.fingerprint,
              createdAt: r.createdAt.toISOString(),
              retiredAt: r.retiredAt?.toISOString() ?? null,
              dataKeys: wrapping.length,
              records: wrapping.reduce((n, k) => n + (records.get(k.id) ?? 0), 0),
            };
          }),
          dataKeys: keys.map((k) => ({ tenantId: k.tenantId, ...dataKeyView(k, records) })),
        };
      });
    },

    /** Retires a root key: refused while it is configured as ENCRYPTION_KEY or any data key is wrapped under it. */
    async retireRoot(fingerprint: string, actor: Actor) {
      if (fingerprint === keyring.fingerprint)
        throw new AppError('CONFLICT', 'This is the configured ENCRYPTION_KEY; rotate to a new key first');
      return withTransaction(pool, async (tx) => {
        await lockTenantKeys(tx, 'root');
        const root = (await listRootKeys(tx)).find((r) => r.fingerprint === fingerprint);
        if (!root) throw new AppError('NOT_FOUND', 'No root key with this fingerprint');
        if (root.retiredAt) throw new AppError('CONFLICT', 'This root key is already retired');
        const n = (await dataKeysPerRoot(tx)).get(fingerprint) ?? 0;
        if (n > 0)
          throw new AppError(
            'CONFLICT',
            `${n} data key(s) are still wrapped under this root key; run rotate-root-key first`,
            {
              details: { dataKeys: n },
            },
          );
        await tx.query('UPDATE root_keys SET retired_at = now(), retired_by = $2 WHERE fingerprint = $1', [
          fingerprint,
          actor.id,
        ]);
        logger.info({ fingerprint, actor: actor.id }, 'root key retired');
        return { fingerprint, retired: true };
      });
    },
  };
}

export type KeyService = ReturnType<typeof createKeyService>;

/**
 * Re-wraps every data key wrapped under ENCRYPTION_KEY_PREVIOUS with ENCRYPTION_KEY, in batches,
 * each data key's change and its `vault.key.rotated` (kind root_rewrap) event in one transaction.
 * Safe to run while the service serves (readers see the old or the new wrapping, both openable
 * by a service configured with both keys) and to run again after an interruption.
 */
export async function rotateRootKey(deps: {
  pool: Pool;
  keyring: Keyring;
  outbox: Pick<Outbox, 'emit'>;
  actor: Actor;
  batchSize?: number;
  onProgress?: (done: number) => void;
}): Promise<{ rewrapped: number; ms: number; fingerprint: string; previousFingerprint: string }> {
  const { keyring } = deps;
  const previous = keyring.previousFingerprint;
  if (!previous) throw new Error('rotate-root-key needs ENCRYPTION_KEY_PREVIOUS (the key being replaced)');
  if (previous === keyring.fingerprint) throw new Error('ENCRYPTION_KEY and ENCRYPTION_KEY_PREVIOUS are the same key');
  await keyring.verify(deps.actor.id);
  const started = performance.now();
  let rewrapped = 0;
  const batchSize = deps.batchSize ?? 500;
  for (;;) {
    // The keys still under the previous root (ids only, across companies), then each company's
    // share re-wrapped in that company's transaction, under its row-level security.
    const refs = await dataKeyRefsUnderRoot(deps.pool, previous, batchSize);
    const byTenant = new Map<string, string[]>();
    for (const r of refs) byTenant.set(r.tenantId, [...(byTenant.get(r.tenantId) ?? []), r.id]);
    let n = 0;
    for (const [tenantId, ids] of byTenant) {
      n += await withTenant(deps.pool, tenantId, async (tx) => {
        const { rows } = await tx.query<{ id: string; tenant_id: string; version: number; wrapped: Buffer }>(
          `SELECT id, tenant_id, version, wrapped FROM data_keys
            WHERE tenant_id = $1 AND id = ANY($2::text[]) AND root_fingerprint = $3 AND status <> 'retired'
            ORDER BY id FOR UPDATE SKIP LOCKED`,
          [tenantId, ids, previous],
        );
        for (const r of rows) {
          const wrapped = keyring.rewrap({ id: r.id, tenantId: r.tenant_id, wrapped: r.wrapped });
          if (sealedKeyId(wrapped) !== keyring.fingerprint)
            throw new Error('re-wrap produced a key under the wrong root');
          await tx.query(
            'UPDATE data_keys SET wrapped = $2, root_fingerprint = $3 WHERE tenant_id = $4 AND id = $1 AND root_fingerprint = $5',
            [r.id, Buffer.from(wrapped), keyring.fingerprint, tenantId, previous],
          );
          await deps.outbox.emit(tx, {
            type: 'vault.key.rotated',
            tenantId: r.tenant_id,
            actor: deps.actor,
            resource: { type: 'data_key', id: r.id },
            payload: {
              kind: 'root_rewrap',
              dataKeyId: r.id,
              dataKeyVersion: r.version,
              rootFingerprint: keyring.fingerprint,
              previousRootFingerprint: previous,
            },
          });
        }
        return rows.length;
      });
    }
    rewrapped += n;
    deps.onProgress?.(rewrapped);
    if (n === 0) break;
  }
  return {
    rewrapped,
    ms: performance.now() - started,
    fingerprint: keyring.fingerprint,
    previousFingerprint: previous,
  };
}
