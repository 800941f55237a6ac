import { z } from 'zod';
import {
  base64Key,
  busFields,
  csv,
  duration,
  httpFields,
  int,
  internalIdentityFields,
  kafkaFields,
  port,
  secret,
  telemetryFields,
  tlsFields,
} from '@flow8/config';

export const vaultConfigSchema = z.object({
  ...httpFields,
  ...kafkaFields,
  ...tlsFields,
  ...telemetryFields,
  ...busFields,
  /** Base64 raw Ed25519 public keys verifying the gateway's internal identity tokens (two during a key change). */
  ...internalIdentityFields,
  PORT: port(8102),
  /** Runtime role (non-owner, bound by row-level security). */
  VAULT_DATABASE_URL: secret(),
  /**
   * The root key-encryption key: 32 random bytes, base64 (or ENCRYPTION_KEY_FILE). Wraps every
   * company's data key; never stored, logged or sent. Start-up refuses a key whose fingerprint
   * does not match the database's.
   */
  ENCRYPTION_KEY: base64Key(32),
  /** The root key being replaced, only while a root-key rotation is under way (or _FILE). */
  ENCRYPTION_KEY_PREVIOUS: base64Key(32).optional(),
  /** Client-certificate CNs allowed on the tenant routes (with an internal identity token). */
  VAULT_ALLOWED_CALLERS: csv().default('gateway'),
  /** Client-certificate CNs allowed on the key-maintenance routes (/internal/v1/keys/*). */
  VAULT_OPERATOR_CALLERS: csv().default('operator'),
  /** Client-certificate CNs allowed to encrypt/decrypt sensitive fields. */
  VAULT_FIELD_CALLERS: csv().default('flow-engine'),
  /**
   * How long an unwrapped data key stays in memory. 0 unwraps on every use (each resolve reads
   * the wrapped key from the database).
   */
  VAULT_DATA_KEY_CACHE_TTL: duration('5m'),
  /** How often the background re-encryption after a data-key rotation looks for work. */
  VAULT_REENCRYPT_INTERVAL: duration('5s'),
  /** Records re-encrypted per transaction. */
  VAULT_REENCRYPT_BATCH: int({ min: 1, max: 10_000, default: 200 }),
});

export type VaultConfig = z.infer<typeof vaultConfigSchema>;
