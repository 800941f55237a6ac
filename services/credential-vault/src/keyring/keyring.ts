// The key hierarchy at run time: the configured root key(s), start-up verification against the
// fingerprints stored beside the data, and each company's data keys (created on first use,
// unwrapped on demand, cached briefly in memory).
import {
  generateKey,
  generateKeyId,
  keyFingerprint,
  rootKeyLookup,
  toHex,
  unwrapKey,
  wrapKey,
  type KeyLookup,
} from '@flow8/crypto';
import { withTransaction, type Pool, type Queryable } from '@flow8/db';
import {
  activeDataKey,
  dataKeysPerRoot,
  insertDataKey,
  insertRootKey,
  listRootKeys,
  maxDataKeyVersion,
  type DataKeyRow,
} from './keyring.repo';

/** Start-up found that the configured root key cannot open this database's keys. */
export class RootKeyMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RootKeyMismatchError';
  }
}

export interface DataKey {
  id: string;
  version: number;
  key: Uint8Array;
}

/** Serialises key-hierarchy changes of one company (and start-up checks: key 0). */
export async function lockTenantKeys(tx: Queryable, tenantId: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('flow8-vault-keys:' || $1))`, [tenantId]);
}

export function createKeyring(deps: {
  pool: Pool;
  current: Uint8Array;
  previous?: Uint8Array | undefined;
  cacheTtlMs: number;
  now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  const fingerprint = keyFingerprint(deps.current);
  const previousFingerprint = deps.previous ? keyFingerprint(deps.previous) : null;
  const rootKeys: KeyLookup = rootKeyLookup(deps.previous ? [deps.current, deps.previous] : [deps.current]);
  const cache = new Map<string, { key: Uint8Array; until: number }>();

  function unwrap(row: Pick<DataKeyRow, 'id' | 'tenantId' | 'wrapped'>): Uint8Array {
    const hit = cache.get(row.id);
    if (hit && hit.until > now()) return hit.key;
    if (!row.wrapped) throw new Error(`data key ${row.id} is retired`);
    const key = unwrapKey({
      rootKeys,
      wrapped: new Uint8Array(row.wrapped),
      dataKeyId: row.id,
      tenantId: row.tenantId,
      purpose: 'tenant',
    });
    if (deps.cacheTtlMs > 0) cache.set(row.id, { key, until: now() + deps.cacheTtlMs });
    return key;
  }

  async function createDataKey(tx: Queryable, tenantId: string, createdBy: string): Promise<DataKey> {
    const id = toHex(generateKeyId());
    const key = generateKey();
    const version = (await maxDataKeyVersion(tx, tenantId)) + 1;
    await insertDataKey(tx, {
      id,
      tenantId,
      version,
      rootFingerprint: fingerprint,
      wrapped: wrapKey({ rootKey: deps.current, dataKey: key, dataKeyId: id, tenantId, purpose: 'tenant' }),
      createdBy,
    });
    return { id, version, key };
  }

  return {
    /** Fingerprint of ENCRYPTION_KEY (safe to print: a keyed hash, not the key). */
    fingerprint,
    previousFingerprint,
    rootKeys,

    /**
     * Start-up check. Refuses (RootKeyMismatchError) a configuration whose keys match no active
     * root fingerprint of this database, a retired key, or one that leaves data keys unopenable.
     * Registers ENCRYPTION_KEY's fingerprint on first start, or when ENCRYPTION_KEY_PREVIOUS
     * proves the operator holds the key being replaced.
     */
    async verify(actor: string): Promise<void> {
      await withTransaction(deps.pool, async (tx) => {
        await lockTenantKeys(tx, 'root');
        const rows = await listRootKeys(tx);
        const active = rows.filter((r) => r.retiredAt === null).map((r) => r.fingerprint);
        const retired = new Set(rows.filter((r) => r.retiredAt !== null).map((r) => r.fingerprint));
        if (retired.has(fingerprint)) {
          throw new RootKeyMismatchError(
            `credential-vault: ENCRYPTION_KEY is a retired root key (fingerprint ${fingerprint}); ` +
              `configure the current key (fingerprint ${active.join(', ') || 'none'})`,
          );
        }
        const configured = [fingerprint, previousFingerprint].filter((f): f is string => f !== null);
        if (active.length > 0 && !configured.some((f) => active.includes(f))) {
          throw new RootKeyMismatchError(
            `credential-vault: ENCRYPTION_KEY does not match the key this database was encrypted with ` +
              `(fingerprint ${active.join(', ')}; the configured key's fingerprint is ${fingerprint})`,
          );
        }
        const perRoot = await dataKeysPerRoot(tx);
        for (const [fp, n] of perRoot) {
          if (!configured.includes(fp)) {
            throw new RootKeyMismatchError(
              `credential-vault: ${n} data key(s) are wrapped under root key fingerprint ${fp}, which is not ` +
                `configured; set ENCRYPTION_KEY_PREVIOUS to that key and run rotate-root-key`,
            );
          }
        }
        if (!rows.some((r) => r.fingerprint === fingerprint)) await insertRootKey(tx, fingerprint, actor);
      });
    },

    /** The company's active data key, created (wrapped under ENCRYPTION_KEY) on first use. */
    async activeKey(tx: Queryable, tenantId: string, createdBy: string): Promise<DataKey> {
      let row = await activeDataKey(tx, tenantId);
      if (!row) {
        await lockTenantKeys(tx, tenantId);
        row = await activeDataKey(tx, tenantId);
        if (!row) return createDataKey(tx, tenantId, createdBy);
      }
      return { id: row.id, version: row.version, key: unwrap(row) };
    },

    /** A fresh active data key (the caller has demoted the old one in the same transaction). */
    createDataKey,
    unwrap,
    /** Drops a cached data key (on retire). */
    forget(id: string): void {
      cache.delete(id);
    },
    /** Wraps a data key under ENCRYPTION_KEY (root re-wrap). */
    rewrap(row: Pick<DataKeyRow, 'id' | 'tenantId' | 'wrapped'>): Uint8Array {
      const key = unwrap(row);
      return wrapKey({
        rootKey: deps.current,
        dataKey: key,
        dataKeyId: row.id,
        tenantId: row.tenantId,
        purpose: 'tenant',
      });
    },
  };
}

export type Keyring = ReturnType<typeof createKeyring>;
