// Field encryption for other services (the flow engine's execution logs mark fields sensitive).
// The vault seals and opens on their behalf, so a company's data key never leaves the vault:
// rotation, retirement and crypto-shredding stay here, and every caller gets the same format
// (AEAD v1, associated data = tenant ‖ record ‖ version ‖ field ‖ service).
//
// Who asks decides nothing by what it says: the company is the one its signed service call names,
// and the calling service is bound into every ciphertext — a field sealed for service X does not
// open for service Y, whatever Y sends. Each decrypt (plaintext leaving the vault) is recorded as
// one `vault.field.decrypted` event in the same transaction: no event, no plaintext.
import { associatedData, DecryptError, fromBase64, open, seal, sealedKeyId, toBase64 } from '@flow8/crypto';
import type { Outbox } from '@flow8/bus';
import { withTenant, type Pool, type Queryable } from '@flow8/db';
import { AppError } from '@flow8/http';
import type { Keyring } from '../../keyring/keyring';
import { dataKeyById } from '../../keyring/keyring.repo';
import type { Access, ServiceCaller } from '../../principal';

export interface FieldRef {
  recordId: string;
  field: string;
  /** The record's version (0 when the record is not versioned). */
  version: number;
}

/** A data key of the company, as a field-holding service needs to see it. */
export interface FieldKeyView {
  id: string;
  version: number;
  status: 'active' | 'retiring' | 'retired';
  /** This caller still holds fields sealed under it (it encrypted with it and has not released it). */
  heldByYou: boolean;
}

export function createFieldService(deps: {
  pool: Pool;
  outbox: Pick<Outbox, 'emit'>;
  keyring: Pick<Keyring, 'activeKey' | 'unwrap'>;
  access: Pick<Access, 'actingPrincipal'>;
  /** Wakes the background re-encryption (which retires keys nothing needs any more). */
  kickReencryption?: () => void;
}) {
  const { pool, keyring } = deps;
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const adOf = (tenantId: string, service: string, f: FieldRef) =>
    associatedData({ tenantId, recordId: f.recordId, version: f.version, field: f.field, service });

  /** A call that names a principal must name a live one of its company (from the replicated copy). */
  async function checkActingFor(caller: ServiceCaller): Promise<void> {
    if (caller.actingFor && !(await deps.access.actingPrincipal(caller)))
      throw new AppError('FORBIDDEN', 'The principal this call acts for is not a member of this company');
  }

  /** The active key, recorded as holding fields of `caller` (their ciphertexts live outside this database). */
  async function sealingKey(tx: Queryable, tenantId: string, caller: string) {
    const dk = await keyring.activeKey(tx, tenantId, caller);
    await tx.query(
      `INSERT INTO data_key_field_users (tenant_id, data_key_id, caller) VALUES ($1, $2, $3)
       ON CONFLICT (data_key_id, caller) DO NOTHING`,
      [tenantId, dk.id, caller],
    );
    await tx.query(
      'UPDATE data_keys SET used_for_fields = true WHERE tenant_id = $1 AND id = $2 AND NOT used_for_fields',
      [tenantId, dk.id],
    );
    return dk;
  }

  function sealWith(
    dk: { id: string; key: Uint8Array },
    tenantId: string,
    service: string,
    f: FieldRef,
    plaintext: Uint8Array,
  ): string {
    return toBase64(seal({ key: dk.key, keyId: Buffer.from(dk.id, 'hex'), plaintext, ad: adOf(tenantId, service, f) }));
  }

  /**
   * Opens one sealed field of the company for the service that sealed it (409 if it fails its
   * integrity check — altered, moved, or sealed for another service — or names no key of the company).
   */
  async function openField(tx: Queryable, tenantId: string, service: string, f: FieldRef & { sealed: string }) {
    let sealed: Uint8Array;
    try {
      sealed = fromBase64(f.sealed);
    } catch (e) {
      throw new AppError('BAD_REQUEST', 'sealed must be standard base64', { cause: e });
    }
    try {
      const keyId = sealedKeyId(sealed);
      // Only this company's keys are visible (row-level security): another company's
      // ciphertext names a key that is not found here.
      const row = await dataKeyById(tx, tenantId, keyId);
      const key = row?.wrapped ? keyring.unwrap(row) : undefined;
      return {
        keyId,
        plaintext: open({ keys: (id) => (id === keyId ? key : undefined), sealed, ad: adOf(tenantId, service, f) }),
      };
    } catch (e) {
      if (e instanceof DecryptError)
        throw new AppError('CONFLICT', 'A sealed field failed its integrity check and cannot be opened', {
          details: { reason: e.reason },
          cause: e,
        });
      throw e;
    }
  }

  return {
    async encrypt(caller: ServiceCaller, items: Array<FieldRef & { plaintext: string }>): Promise<string[]> {
      await checkActingFor(caller);
      const { tenantId, service } = caller;
      return withTenant(pool, tenantId, async (tx) => {
        const dk = await sealingKey(tx, tenantId, service);
        return items.map((i) => sealWith(dk, tenantId, service, i, enc.encode(i.plaintext)));
      });
    },

    /** Opens fields sealed for this service, and records the reveal (one event for the call). */
    async decrypt(
      caller: ServiceCaller,
      items: Array<FieldRef & { sealed: string }>,
      purpose: string | null,
    ): Promise<string[]> {
      await checkActingFor(caller);
      const { tenantId, service } = caller;
      return withTenant(pool, tenantId, async (tx) => {
        const out: string[] = [];
        for (const i of items) out.push(dec.decode((await openField(tx, tenantId, service, i)).plaintext));
        const recordIds = [...new Set(items.map((i) => i.recordId))];
        await deps.outbox.emit(tx, {
          type: 'vault.field.decrypted',
          tenantId,
          actor: caller.actor,
          resource: { type: 'record', id: recordIds[0]! },
          ...(purpose ? { purpose } : {}),
          payload: {
            service,
            count: items.length,
            fields: [...new Set(items.map((i) => i.field))] as [string, ...string[]],
            recordIds: recordIds as [string, ...string[]],
            ...(caller.actingFor ? { actingFor: { type: caller.actingFor.type, id: caller.actingFor.id } } : {}),
          },
        });
        return out;
      });
    },

    /**
     * After a data-key rotation: each field sealed under an older key comes back sealed under the
     * active key (same record, field and version); fields already under it come back unchanged.
     * The plaintext never leaves the vault. The caller stores the new ciphertexts, then releases
     * the old key.
     */
    async reencrypt(
      caller: ServiceCaller,
      items: Array<FieldRef & { sealed: string }>,
    ): Promise<{ sealed: string[]; reencrypted: number; keyId: string }> {
      await checkActingFor(caller);
      const { tenantId, service } = caller;
      return withTenant(pool, tenantId, async (tx) => {
        const dk = await sealingKey(tx, tenantId, service);
        let reencrypted = 0;
        const sealed: string[] = [];
        for (const i of items) {
          const opened = await openField(tx, tenantId, service, i);
          if (opened.keyId === dk.id) {
            sealed.push(i.sealed);
          } else {
            sealed.push(sealWith(dk, tenantId, service, i, opened.plaintext));
            reencrypted += 1;
          }
          opened.plaintext.fill(0);
        }
        return { sealed, reencrypted, keyId: dk.id };
      });
    },

    /** The company's data keys and which of them this caller still holds fields under. */
    async keys(caller: ServiceCaller): Promise<FieldKeyView[]> {
      const tenantId = caller.tenantId;
      return withTenant(pool, tenantId, async (tx) => {
        const { rows } = await tx.query<{ id: string; version: number; status: FieldKeyView['status']; held: boolean }>(
          `SELECT k.id, k.version, k.status,
                  EXISTS (SELECT 1 FROM data_key_field_users u WHERE u.data_key_id = k.id AND u.caller = $2) AS held
             FROM data_keys k WHERE k.tenant_id = $1 ORDER BY k.version`,
          [tenantId, caller.service],
        );
        return rows.map((r) => ({ id: r.id, version: r.version, status: r.status, heldByYou: r.held }));
      });
    },

    /**
     * The caller declares it holds no field sealed under this (retiring) key any more. When no
     * service does and the vault's own records are re-encrypted, the background pass retires it.
     * Refused for the active key (409): rotate first.
     */
    async release(caller: ServiceCaller, keyId: string): Promise<{ stillHeldBy: string[] }> {
      const { tenantId, service } = caller;
      const out = await withTenant(pool, tenantId, async (tx) => {
        const key = await dataKeyById(tx, tenantId, keyId);
        if (!key) throw new AppError('NOT_FOUND', 'Data key not found');
        if (key.status === 'active')
          throw new AppError('CONFLICT', 'This is the active data key: rotate the company key before releasing it');
        const gone = await tx.query('DELETE FROM data_key_field_users WHERE data_key_id = $1 AND caller = $2', [
          keyId,
          service,
        ]);
        const { rows } = await tx.query<{ caller: string }>(
          'SELECT caller FROM data_key_field_users WHERE data_key_id = $1 ORDER BY caller',
          [keyId],
        );
        const stillHeldBy = rows.map((r) => r.caller);
        if (stillHeldBy.length === 0 && key.usedForFields)
          await tx.query('UPDATE data_keys SET used_for_fields = false WHERE tenant_id = $1 AND id = $2', [
            tenantId,
            keyId,
          ]);
        if ((gone.rowCount ?? 0) > 0)
          await deps.outbox.emit(tx, {
            type: 'vault.key.fields_released',
            tenantId,
            actor: caller.actor,
            resource: { type: 'data_key', id: keyId },
            payload: { dataKeyId: keyId, dataKeyVersion: key.version, service, stillHeldBy },
          });
        return { stillHeldBy };
      });
      if (out.stillHeldBy.length === 0) deps.kickReencryption?.();
      return out;
    },
  };
}

export type FieldService = ReturnType<typeof createFieldService>;
