import { z } from 'zod';
import {
  busFields,
  csv,
  duration,
  httpFields,
  int,
  internalIdentityFields,
  kafkaFields,
  port,
  secret,
  metricsFields,
  metricsPort,
  telemetryFields,
  tlsFields,
} from '@flow8/config';
import { apiKeyConfigFields } from './features/api-keys/api-keys.config';

export const authConfigSchema = z.object({
  ...httpFields,
  ...kafkaFields,
  ...tlsFields,
  ...telemetryFields,
  ...metricsFields,
  ...busFields,
  /** Base64 raw Ed25519 public keys verifying the gateway's internal identity tokens (two during a key change). */
  ...internalIdentityFields,
  /** AUTH_API_KEY_SIGNING_KEYS: Ed25519 seeds signing API keys (first signs, the rest verify). */
  ...apiKeyConfigFields,
  PORT: port(8101),
  /** Plain-HTTP `GET /metrics` for Prometheus; 0 turns it off. */
  METRICS_PORT: metricsPort(9101),
  /** Runtime role (non-owner, bound by row-level security). */
  AUTH_DATABASE_URL: secret(),
  /** The outbox relay's role: reads and marks the outbox, nothing else. */
  AUTH_RELAY_DATABASE_URL: secret(),
  /** Redis (rediss:// only) that the gateways read allowlists from. Holds a password: a secret. */
  REDIS_URL: secret(),
  /** bcrypt work factor for new password hashes. Below 10 is refused: too cheap to brute-force. */
  AUTH_BCRYPT_COST: int({ min: 10, max: 15, default: 12 }),
  /**
   * Service identities (client-certificate CNs) allowed to call auth: on the tenant-scoped routes
   * with an internal identity token, on login and session resolve without one (nobody is
   * authenticated yet). Company creation also admits the platform operator's certificate.
   */
  AUTH_ALLOWED_CALLERS: csv().default('gateway'),
  /** Absolute session lifetime. */
  AUTH_SESSION_TTL: duration('1h'),
  /** Failed logins within AUTH_LOCKOUT_WINDOW that lock an account… */
  AUTH_LOCKOUT_THRESHOLD: int({ min: 1, max: 100, default: 5 }),
  AUTH_LOCKOUT_WINDOW: duration('15m'),
  /** …for this long. */
  AUTH_LOCKOUT_DURATION: duration('15m'),
});

export type AuthConfig = z.infer<typeof authConfigSchema>;
