// The real gateway in-process against the real stack: auth, audit-ingest and credential-vault started in-process
// (their own harnesses: fresh databases, real migrations, own topic prefix), Redis shared by
// every gateway instance, HTTPS everywhere. Log lines are kept so tests can read the reasons.
import { randomBytes } from 'node:crypto';
import { request as httpsRequestRaw } from 'node:https';
import { ed25519RawPublicKey } from '@flow8/http';
import { signEdDsaJwt, type JwtClaims } from '@flow8/jwt';
import { createLogger } from '@flow8/telemetry';
import { certPair, randomId, stackEnv, startOidcProvider, type OidcTestProvider } from '@flow8/testkit';
import { startAudit } from '../../audit-ingest/test/harness';
import { startAuth } from '../../auth/test/harness';
import { startVault } from '../../credential-vault/test/harness';
import { flowDb, startEngine } from '../../flow-engine/test/harness';
import { gatewayConfigSchema } from '../src/config';
import { createGateway } from '../src/service';

export const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** Keys shared by one suite: the gateway's identity key and auth's API-key signing key. */
export function suiteKeys() {
  const identitySeed = randomBytes(32);
  const apiKeySeed = randomBytes(32);
  return {
    identitySeed,
    identityPublicKey: b64(ed25519RawPublicKey(identitySeed)),
    apiKeySeed,
    operatorToken: randomBytes(32).toString('base64url'),
  };
}
export type SuiteKeys = ReturnType<typeof suiteKeys>;

export interface UpstreamOptions {
  /**
   * audit-ingest and credential-vault use auth's topic prefix, so auth's identity events and the
   * vault's events (`flow8.vault.events.v1`) land in the ledger (by default each has its own
   * prefix and the ledger only sees audit-ingest's own events).
   */
  sharedPrefix?: boolean;
  authOverrides?: Record<string, string>;
  auditOverrides?: Record<string, string>;
  vaultOverrides?: Record<string, string>;
  engineOverrides?: Record<string, string>;
  /**
   * Start a real OpenID Connect provider (oidc-provider over HTTPS, stack CA) and configure the
   * vault's OAuth2 with it: `salesforce` is connected through it, with OAUTH_REDIRECT_URI as the
   * registered redirect URI (the product frontend's page; nothing listens there, tests play it).
   */
  oauth?: boolean;
}

/** The frontend page the provider sends the browser back to (VAULT_OAUTH_REDIRECT_URI). */
export const OAUTH_REDIRECT_URI = 'https://app.flow8.test/oauth/callback';
/** The integration the test provider stands in for, and a scope of its catalogue. */
export const OAUTH_INTEGRATION = 'salesforce';
export const OAUTH_SCOPE = 'records:read';

/** The vault's OAuth2 settings for one integration connected through the test provider. */
function vaultOAuthEnv(idp: OidcTestProvider): Record<string, string> {
  const u = OAUTH_INTEGRATION.toUpperCase();
  return {
    VAULT_OAUTH_REDIRECT_URI: OAUTH_REDIRECT_URI,
    VAULT_OAUTH_CA_FILE: stackEnv().caFile,
    [`VAULT_OAUTH_${u}_CLIENT_ID`]: idp.clientId,
    [`VAULT_OAUTH_${u}_CLIENT_SECRET`]: idp.clientSecret,
    [`VAULT_OAUTH_${u}_ISSUER`]: idp.issuer,
    // The provider listens on loopback: allowed for this one host name only.
    [`VAULT_OAUTH_${u}_ALLOW_PRIVATE_HOSTS`]: 'localhost',
  };
}

export async function startUpstreams(keys: SuiteKeys, opts: UpstreamOptions = {}) {
  const env = stackEnv();
  const auth = await startAuth({
    overrides: {
      INTERNAL_IDENTITY_PUBLIC_KEYS: keys.identityPublicKey,
      AUTH_API_KEY_SIGNING_KEYS: b64(keys.apiKeySeed),
      REDIS_URL: env.redisUrl,
      LOG_LEVEL: 'warn',
      ...opts.authOverrides,
    },
  });
  const audit = await startAudit({
    ...(opts.sharedPrefix ? { prefix: auth.prefix } : {}),
    overrides: { INTERNAL_IDENTITY_PUBLIC_KEYS: keys.identityPublicKey, ...opts.auditOverrides },
  });
  const idp = opts.oauth ? await startOidcProvider({ redirectUris: [OAUTH_REDIRECT_URI] }) : null;
  // The vault trusts the gateway's identity key (its harness derives the public key from the seed);
  // its log lines are kept (vault.logText()) for the secret canary.
  const vault = await startVault({
    seed: keys.identitySeed,
    ...(opts.sharedPrefix ? { prefix: auth.prefix } : {}),
    overrides: { ...(idp ? vaultOAuthEnv(idp) : {}), ...opts.vaultOverrides },
  });
  // The flow engine reads auth's identity topic (its grant replica), so it shares auth's prefix;
  // it trusts the gateway's identity key.
  const flowDatabase = await flowDb();
  const engine = await startEngine(flowDatabase, auth.prefix, {
    startSweeps: true,
    overrides: { INTERNAL_IDENTITY_PUBLIC_KEYS: keys.identityPublicKey, ...opts.engineOverrides },
  });
  const engineUrl = await engine.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    auth,
    audit,
    vault,
    engine,
    /** The OpenID Connect provider behind the vault's OAuth2 (with `oauth: true`), else null. */
    idp,
    /** The upstream URLs for startGateway. */
    urls: { authUrl: auth.url, auditUrl: audit.url, vaultUrl: vault.url, flowEngineUrl: engineUrl },
    async stop() {
      await Promise.allSettled([auth.stop(), audit.stop(), vault.stop(), engine.app.close().then(() => engine.stop())]);
      await flowDatabase.drop();
      await idp?.stop();
    },
  };
}

/** The provider of upstreams started with `oauth: true`. */
export function idpOf(up: { idp: OidcTestProvider | null }): OidcTestProvider {
  if (!up.idp) throw new Error('upstreams were started without oauth: true');
  return up.idp;
}

/** What the frontend's redirect page receives from the provider: the callback query to pass on. */
export interface ProviderAnswer {
  state: string;
  code?: string;
  iss: string;
  error?: string;
}

/** The user signs in and consents at the provider: the query it sends the browser back with. */
export async function authorizeAtProvider(idp: OidcTestProvider, authorizationUrl: string): Promise<ProviderAnswer> {
  const back = await idp.authorize(authorizationUrl);
  if (back.error !== null || !back.code || !back.state) throw new Error(`the provider answered ${back.error}`);
  if (back.redirectedTo.origin + back.redirectedTo.pathname !== OAUTH_REDIRECT_URI)
    throw new Error(`the provider redirected to ${back.redirectedTo.href}`);
  return { code: back.code, state: back.state, iss: back.redirectedTo.searchParams.get('iss') ?? '' };
}

/**
 * The user refuses at the provider: plays the browser up to the provider's login page and
 * presses "cancel" there (the interaction's abort), then stops at the redirect back to the
 * frontend — `error=access_denied` with the state and the issuer, as the provider itself sends it.
 */
export async function denyAtProvider(idp: OidcTestProvider, authorizationUrl: string): Promise<ProviderAnswer> {
  const jar = new Map<string, string>();
  let url = new URL(authorizationUrl);
  let method = 'GET';
  for (let hop = 0; hop < 20; hop += 1) {
    if (url.origin !== idp.issuer) {
      const q = url.searchParams;
      return { state: q.get('state') ?? '', iss: q.get('iss') ?? '', error: q.get('error') ?? '' };
    }
    const res = await rawHttps(url, method, idp.ca, [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    for (const c of res.setCookie) {
      const pair = c.split(';')[0] ?? '';
      const eq = pair.indexOf('=');
      if (eq > 0) jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    method = 'GET';
    if (res.status >= 300 && res.status < 400 && res.location) {
      url = new URL(res.location, url);
      continue;
    }
    const uid = /action="\/interaction\/([A-Za-z0-9_-]+)\/login"/.exec(res.body)?.[1];
    if (res.status !== 200 || !uid) throw new Error(`denying stopped at ${url.pathname} with HTTP ${res.status}`);
    url = new URL(`/interaction/${uid}/abort`, idp.issuer);
    method = 'POST';
  }
  throw new Error('denying: too many redirects');
}

function rawHttps(
  url: URL,
  method: string,
  ca: string,
  cookie: string,
): Promise<{ status: number; location: string | undefined; setCookie: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequestRaw(url, { method, ca, agent: false, headers: { cookie } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          location: res.headers.location,
          setCookie: res.headers['set-cookie'] ?? [],
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The gateway path of the callback the frontend page makes with the provider's answer. */
export const callbackPath = (a: Partial<ProviderAnswer>): string =>
  `/v1/credentials/oauth/callback?${new URLSearchParams(
    Object.entries(a).filter((e): e is [string, string] => typeof e[1] === 'string'),
  ).toString()}`;

/** Rate limits a functional suite never reaches (the limits are attacked by suites of their own). */
export const NO_RATE_LIMITS = {
  GATEWAY_RATE_LIMIT_USER: '1000000',
  GATEWAY_RATE_LIMIT_IP: '1000000',
  GATEWAY_RATE_LIMIT_TENANT: '1000000',
} as const;

/** Trust X-Forwarded-For from loopback, so a suite chooses the client IP of each request. */
export const TRUSTED_LOOPBACK = { GATEWAY_TRUSTED_PROXIES: '127.0.0.1/32,::1/128' } as const;

export async function startGateway(
  keys: SuiteKeys,
  upstreams: { authUrl: string; auditUrl: string; vaultUrl?: string; flowEngineUrl?: string },
  overrides: Record<string, string> = {},
) {
  const env = stackEnv();
  const tls = certPair('gateway');
  const config = gatewayConfigSchema.parse({
    PORT: '8443',
    FLOW8_CA_FILE: env.caFile,
    TLS_CERT_FILE: tls.certFile,
    TLS_KEY_FILE: tls.keyFile,
    REDIS_URL: env.redisUrl,
    GATEWAY_AUTH_URL: upstreams.authUrl,
    GATEWAY_AUDIT_URL: upstreams.auditUrl,
    ...(upstreams.vaultUrl ? { GATEWAY_VAULT_URL: upstreams.vaultUrl } : {}),
    ...(upstreams.flowEngineUrl ? { GATEWAY_FLOW_ENGINE_URL: upstreams.flowEngineUrl } : {}),
    GATEWAY_IDENTITY_SIGNING_KEY: b64(keys.identitySeed),
    GATEWAY_OPERATOR_TOKEN: keys.operatorToken,
    // Short windows: counters of one run never reach into the next.
    GATEWAY_RATE_LIMIT_WINDOW: '60s',
    LOG_LEVEL: 'info',
    ...overrides,
  });
  const lines: string[] = [];
  const logger = createLogger({
    service: 'gateway',
    level: config.LOG_LEVEL,
    destination: { write: (line: string) => void lines.push(line) },
  });
  const gw = await createGateway(config, logger);
  await gw.start();
  const url = await gw.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    gw,
    url,
    config,
    logText: () => lines.join(''),
    async stop() {
      await gw.app.close();
      await gw.stop();
    },
  };
}

/** An API key exactly as auth issues it (same signing key), with the claims a test wants. */
export function mintApiKey(seed: Uint8Array, claims: Partial<JwtClaims> = {}, header: { typ?: string } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return signEdDsaJwt(
    header,
    {
      iss: 'flow8-auth',
      sub: `key_${randomId()}`,
      tid: `ten_${randomId()}`,
      uid: `usr_${randomId()}`,
      role: 'admin',
      scopes: ['audit:read', 'users:read'],
      cidrs: [],
      iat: now,
      nbf: now,
      exp: now + 3600,
      jti: randomBytes(16).toString('hex'),
      ...claims,
    },
    seed,
  );
}
