import { z } from 'zod';
import {
  base64Key,
  filePath,
  busFields,
  csv,
  duration,
  httpFields,
  int,
  internalIdentityFields,
  kafkaFields,
  port,
  secret,
  serviceKeys,
  str,
  metricsFields,
  metricsPort,
  telemetryFields,
  tlsFields,
  url,
} from '@flow8/config';
import { INTEGRATIONS, type IntegrationName } from './features/oauth/integrations';

type Upper = Uppercase<IntegrationName>;
const clientId = () => str().optional();
const clientSecret = () => secret().optional();
const issuer = () => url({ protocols: ['https:'] }).optional();
const allowHosts = () => csv().optional();

/**
 * Per integration (NAME = CLIO, QUICKBOOKS, SALESFORCE, SLACK, GOOGLE_DRIVE):
 * `VAULT_OAUTH_<NAME>_CLIENT_ID` and `VAULT_OAUTH_<NAME>_CLIENT_SECRET` (or `_FILE`) enable the
 * OAuth2 flow for it; `VAULT_OAUTH_<NAME>_ISSUER` points it at a generic OpenID Connect provider
 * (discovery, RFC 7009 revocation) instead of the provider's published endpoints;
 * `VAULT_OAUTH_<NAME>_ALLOW_PRIVATE_HOSTS` lists host names allowed to resolve to private or
 * loopback addresses (unset: public addresses only).
 */
const oauthIntegrationFields = Object.fromEntries(
  INTEGRATIONS.flatMap((name) => {
    const u = name.toUpperCase();
    return [
      [`VAULT_OAUTH_${u}_CLIENT_ID`, clientId()],
      [`VAULT_OAUTH_${u}_CLIENT_SECRET`, clientSecret()],
      [`VAULT_OAUTH_${u}_ISSUER`, issuer()],
      [`VAULT_OAUTH_${u}_ALLOW_PRIVATE_HOSTS`, allowHosts()],
    ];
  }),
) as { [K in `VAULT_OAUTH_${Upper}_CLIENT_ID`]: ReturnType<typeof clientId> } & {
  [K in `VAULT_OAUTH_${Upper}_CLIENT_SECRET`]: ReturnType<typeof clientSecret>;
} & { [K in `VAULT_OAUTH_${Upper}_ISSUER`]: ReturnType<typeof issuer> } & {
  [K in `VAULT_OAUTH_${Upper}_ALLOW_PRIVATE_HOSTS`]: ReturnType<typeof allowHosts>;
};

export const vaultConfigSchema = z.object({
  ...httpFields,
  ...kafkaFields,
  ...tlsFields,
  ...telemetryFields,
  ...metricsFields,
  ...busFields,
  /** Base64 raw Ed25519 public keys verifying the gateway's internal identity tokens (two during a key change). */
  ...internalIdentityFields,
  PORT: port(8102),
  /** Plain-HTTP `GET /metrics` for Prometheus; 0 turns it off. */
  METRICS_PORT: metricsPort(9102),
  /** Runtime role (non-owner, bound by row-level security). */
  VAULT_DATABASE_URL: secret(),
  /** The outbox relay's role: reads and marks the outbox, nothing else. */
  VAULT_RELAY_DATABASE_URL: secret(),
  /**
   * The root key-encryption key: 32 random bytes, base64 (or ENCRYPTION_KEY_FILE). Wraps every
   * company's data key; never stored, logged or sent. Start-up refuses a key whose fingerprint
   * does not match the database's.
   */
  ENCRYPTION_KEY: base64Key(32),
  /** The root key being replaced, only while a root-key rotation is under way (or _FILE). */
  ENCRYPTION_KEY_PREVIOUS: base64Key(32).optional(),
  /**
   * Consumer group of the vault's copy of auth's principals and grants (read from the identity
   * topic). One group per deployment: every replica shares the copy in the database.
   */
  VAULT_GRANTS_CONSUMER_GROUP: str().default('credential-vault.grants'),
  /**
   * The services that call the vault on their own initiative (resolve, field encryption) and the
   * public keys their service-call tokens are signed with: `name:base64,…` (raw 32-byte Ed25519;
   * a name twice during a key change). A caller without a key here is refused. Empty: none.
   */
  VAULT_SERVICE_IDENTITY_KEYS: serviceKeys().default(''),
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
  /**
   * Where providers send the browser back after consent (registered at every provider): the
   * frontend page that calls GET /v1/credentials/oauth/callback. Unset: the OAuth2 routes answer 404.
   */
  VAULT_OAUTH_REDIRECT_URI: url({ protocols: ['https:'] }).optional(),
  /** PEM CA bundle to verify OAuth providers with; unset: Node's public roots. */
  VAULT_OAUTH_CA_FILE: filePath().optional(),
  /** How long a started authorization waits for its callback. */
  VAULT_OAUTH_STATE_TTL: duration('10m'),
  /** A resolve refreshes an OAuth2 access token that expires within this margin. */
  VAULT_OAUTH_REFRESH_MARGIN: duration('60s'),
  ...oauthIntegrationFields,
});

export type VaultConfig = z.infer<typeof vaultConfigSchema>;
