import { z } from 'zod';
import { busFields, csv, httpFields, int, kafkaFields, port, secret, telemetryFields, tlsFields } from '@flow8/config';

export const authConfigSchema = z.object({
  ...httpFields,
  ...kafkaFields,
  ...tlsFields,
  ...telemetryFields,
  ...busFields,
  PORT: port(8101),
  /** Runtime role (non-owner, bound by row-level security). */
  AUTH_DATABASE_URL: secret(),
  /** bcrypt work factor for new password hashes. Below 10 is refused: too cheap to brute-force. */
  AUTH_BCRYPT_COST: int({ min: 10, max: 15, default: 12 }),
  /**
   * Service identities (client-certificate CNs) allowed on the tenant-scoped routes (/v1/users);
   * they state the acting principal in x-flow8-* headers. The company-creation route admits only
   * the platform operator's certificate (CN `operator`), whatever this says.
   */
  AUTH_ALLOWED_CALLERS: csv().default('gateway'),
});

export type AuthConfig = z.infer<typeof authConfigSchema>;
