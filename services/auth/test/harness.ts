// Runs the real auth service in-process against the real stack: a fresh database with the real
// migrations, a topic prefix of its own on the shared broker, Redis, TLS everywhere. Every log
// line the service writes is kept in memory so tests can search it for secrets. The clock is
// injected, so tests can jump an hour ahead; identity tokens are minted as the gateway would.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { OUTBOX_MIGRATIONS_DIR } from '@flow8/bus';
import { createIdentitySigner, ed25519RawPublicKey, type InternalPrincipal } from '@flow8/http';
import { createLogger } from '@flow8/telemetry';
import {
  certPair,
  freshDatabase,
  httpsRequest,
  manualClock,
  stackEnv,
  provisionTopics,
  uniqueTopicPrefix,
  type HttpsResponse,
  type TestDatabase,
} from '@flow8/testkit';
import { authConfigSchema, type AuthConfig } from '../src/config';
import { createAuth } from '../src/service';

export const AUTH_MIGRATIONS = [
  { component: 'bus', dir: OUTBOX_MIGRATIONS_DIR },
  { component: 'auth', dir: fileURLToPath(new URL('../migrations', import.meta.url)) },
];

export function authConfig(
  db: TestDatabase,
  prefix: string,
  identityPublicKey: string,
  overrides: Record<string, string> = {},
): AuthConfig {
  const env = stackEnv();
  const tls = certPair('auth');
  return authConfigSchema.parse({
    PORT: '8101',
    KAFKA_BROKERS: env.kafkaBrokers.join(','),
    FLOW8_CA_FILE: env.caFile,
    TLS_CERT_FILE: tls.certFile,
    TLS_KEY_FILE: tls.keyFile,
    AUTH_DATABASE_URL: db.appUrl,
    AUTH_RELAY_DATABASE_URL: db.relayUrl,
    REDIS_URL: env.redisUrl,
    KAFKA_TOPIC_PREFIX: prefix,
    AUTH_ALLOWED_CALLERS: 'gateway,testkit',
    INTERNAL_IDENTITY_PUBLIC_KEYS: identityPublicKey,
    AUTH_API_KEY_SIGNING_KEYS: randomBytes(32).toString('base64'),
    // The minimum the config accepts: keeps the suite fast, still real bcrypt.
    AUTH_BCRYPT_COST: '10',
    // Everything the service can say, so secret-leak checks see the most verbose output.
    LOG_LEVEL: 'trace',
    ...overrides,
  });
}

export type Principal = Partial<InternalPrincipal> & Pick<InternalPrincipal, 'tenantId' | 'id'>;

export async function startAuth(opts: { db?: TestDatabase; prefix?: string; overrides?: Record<string, string> } = {}) {
  const db = opts.db ?? (await freshDatabase('AUTH', AUTH_MIGRATIONS));
  const prefix = opts.prefix ?? uniqueTopicPrefix();
  await provisionTopics(prefix);
  const seed = randomBytes(32);
  const signer = createIdentitySigner({ seed });
  const config = authConfig(db, prefix, Buffer.from(ed25519RawPublicKey(seed)).toString('base64'), opts.overrides);
  const clock = manualClock();
  const lines: string[] = [];
  const logger = createLogger({
    service: 'auth',
    level: config.LOG_LEVEL,
    destination: { write: (line: string) => void lines.push(line) },
  });
  const svc = await createAuth(config, logger, { now: clock.now });
  await svc.start();
  const url = await svc.app.listen({ host: '127.0.0.1', port: 0 });

  /** The x-flow8-identity header the gateway would send for this principal. */
  const identity = (p: Principal, audience = 'auth'): Record<string, string> => ({
    'x-flow8-identity': signer.sign(
      { type: 'user', role: null, scopes: [], ip: '203.0.113.7', sessionId: null, ...p },
      audience,
    ),
  });

  return {
    db,
    prefix,
    config,
    svc,
    url,
    seed,
    clock,
    identity,
    /** A request as the gateway (mTLS CN gateway), with an identity token when `as` names a principal. */
    call(
      method: string,
      path: string,
      o: { principal?: Principal; body?: unknown; cert?: string | null; headers?: Record<string, string> } = {},
    ): Promise<HttpsResponse> {
      return httpsRequest(`${url}${path}`, {
        method,
        as: o.cert === undefined ? 'gateway' : o.cert,
        headers: { ...(o.principal ? identity(o.principal) : {}), ...o.headers },
        body: o.body,
      });
    },
    /** Everything logged so far, raw. */
    logText: () => lines.join(''),
    async stop() {
      await svc.app.close();
      await svc.stop();
    },
  };
}
