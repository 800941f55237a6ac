// The vault's logger as main() builds it (createServiceLogger from the config schema): what the
// OAuth2 flow handles — the integrations' client secrets, authorization codes, states, PKCE
// verifiers, plaintext secrets — never reaches a log line.
import { randomBytes } from 'node:crypto';
import { createServiceLogger } from '@flow8/runtime';
import { vaultConfigSchema } from './config';

function capture(env: Record<string, string>) {
  const raw: string[] = [];
  const logger = createServiceLogger({
    name: 'credential-vault',
    schema: vaultConfigSchema,
    level: 'info',
    env,
    destination: { write: (s: string) => void raw.push(s) },
  });
  return { logger, text: () => raw.join('') };
}

describe('credential-vault log scrubbing', () => {
  it('scrubs every OAuth2 client secret wherever it appears, although no list names them', () => {
    const salesforce = `sf-secret-${randomBytes(12).toString('hex')}`;
    const slack = `slack-secret-${randomBytes(12).toString('hex')}`;
    const dbPassword = `pw${randomBytes(9).toString('hex')}`;
    const key = randomBytes(32).toString('base64');
    const { logger, text } = capture({
      VAULT_OAUTH_SALESFORCE_CLIENT_SECRET: salesforce,
      VAULT_OAUTH_SLACK_CLIENT_SECRET: slack,
      VAULT_DATABASE_URL: `postgres://vault:${dbPassword}@localhost:5432/vault`,
      ENCRYPTION_KEY: key,
    });
    // Where such a value really turns up: an error echoing a request, a message, a nested field.
    logger.error({ err: new Error(`token endpoint refused client_secret=${salesforce}`) }, 'oauth refresh failed');
    logger.warn({ request: { body: `client_id=x&client_secret=${slack}` } }, 'provider answered 401');
    logger.error(`could not connect with password ${dbPassword}`);
    logger.info({ keyHex: Buffer.from(key, 'base64').toString('hex') }, 'key loaded');
    const out = text();
    for (const secret of [salesforce, slack, dbPassword, key, Buffer.from(key, 'base64').toString('hex')]) {
      expect(out).not.toContain(secret);
    }
    expect(out.match(/\[REDACTED\]/g)?.length).toBeGreaterThanOrEqual(4);
  });

  it('redacts the OAuth2 and CSRF fields by name, and keeps error codes', () => {
    const { logger, text } = capture({});
    const values = {
      csrfToken: `csrf-${randomBytes(8).toString('hex')}`,
      codeVerifier: `ver-${randomBytes(8).toString('hex')}`,
      code: `authcode-${randomBytes(8).toString('hex')}`,
      state: `state-${randomBytes(8).toString('hex')}`,
      plaintext: `plain-${randomBytes(8).toString('hex')}`,
    };
    logger.info({ callback: { ...values } }, 'oauth callback');
    const err = Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' });
    logger.error({ err }, 'provider unreachable');
    const out = text();
    for (const v of Object.values(values)) expect(out).not.toContain(v);
    const [first, second] = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { callback?: unknown; err?: { code?: unknown } });
    expect(first?.callback).toEqual({
      csrfToken: '[REDACTED]',
      codeVerifier: '[REDACTED]',
      code: '[REDACTED]',
      state: '[REDACTED]',
      plaintext: '[REDACTED]',
    });
    expect(second?.err?.code).toBe('ECONNREFUSED');
  });
});
