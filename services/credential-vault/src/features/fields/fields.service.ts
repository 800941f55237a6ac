// Field encryption for other services (the flow engine's execution logs mark fields sensitive).
// The vault seals and opens on their behalf, so a company's data key never leaves the vault:
// rotation, retirement and crypto-shredding stay here, and every caller gets the same format
// (AEAD v1, associated data = tenant ‖ record ‖ version ‖ field).
import { associatedData, DecryptError, fromBase64, open, seal, sealedKeyId, toBase64 } from '@flow8/crypto';
import { withTenant, type Pool } from '@flow8/db';
import { AppError } from '@flow8/http';
import type { Keyring } from '../../keyring/keyring';
import { dataKeyById } from '../../keyring/keyring.repo';

export interface FieldRef {
  recordId: string;
  field: string;
  /** The record's version (0 when the record is not versioned). */
  version: number;
}

export function createFieldService(deps: {
  pool: Pool;
  keyring: Pick<Keyring, 'activeKey' | 'unwrap'>;
  caller: string;
}) {
  const { pool, keyring } = deps;
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const adOf = (tenantId: string, f: FieldRef) =>
    associatedData({ tenantId, recordId: f.recordId, version: f.version, field: f.field });

  return {
    async encrypt(tenantId: string, items: Array<FieldRef & { plaintext: string }>): Promise<string[]> {
      return withTenant(pool, tenantId, async (tx) => {
        const dk = await keyring.activeKey(tx, tenantId, deps.caller);
        // Its ciphertexts will live outside this database: the key must not be retired automatically.
        await tx.query(
          'UPDATE data_keys SET used_for_fields = true WHERE tenant_id = $1 AND id = $2 AND NOT used_for_fields',
          [tenantId, dk.id],
        );
        return items.map((i) =>
          toBase64(
            seal({
              key: dk.key,
              keyId: Buffer.from(dk.id, 'hex'),
              plaintext: enc.encode(i.plaintext),
              ad: adOf(tenantId, i),
            }),
          ),
        );
      });
    },

    async decrypt(tenantId: string, items: Array<FieldRef & { sealed: string }>): Promise<string[]> {
      return withTenant(pool, tenantId, async (tx) => {
        const out: string[] = [];
        for (const i of items) {
          let sealed: Uint8Array;
          try {
            sealed = fromBase64(i.sealed);
          } catch (e) {
            throw new AppError('BAD_REQUEST', 'sealed must be standard base64', { cause: e });
          }
          try {
            const keyId = sealedKeyId(sealed);
            // Only this company's keys are visible (row-level security): another company's
            // ciphertext names a key that is not found here.
            const row = await dataKeyById(tx, tenantId, keyId);
            const key = row?.wrapped ? keyring.unwrap(row) : undefined;
            out.push(
              dec.decode(open({ keys: (id) => (id === keyId ? key : undefined), sealed, ad: adOf(tenantId, i) })),
            );
          } catch (e) {
            if (e instanceof DecryptError)
              throw new AppError('CONFLICT', 'A sealed field failed its integrity check and cannot be opened', {
                details: { reason: e.reason },
                cause: e,
              });
            throw e;
          }
        }
        return out;
      });
    },
  };
}

export type FieldService = ReturnType<typeof createFieldService>;
