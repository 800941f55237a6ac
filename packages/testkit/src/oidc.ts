// A real OpenID Connect provider for tests: `oidc-provider` (panva, OpenID Certified) served over
// HTTPS on loopback with a certificate from the stack's CA. It is the provider library itself,
// not a stub of the protocol: PKCE, state, refresh-token rotation, revocation and introspection
// are the library's own implementation.
//
// The browser leg (the user signing in and consenting) is the only part we supply: a small
// interaction handler with a real login form (checked against a one-user account store) and an
// automatic consent. `authorize(url)` drives it with plain HTTPS requests — follow redirects with
// a cookie jar, POST the login form — and returns the redirect to the client's redirect_uri.
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, request as httpsRequestRaw, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import Provider, { type Configuration, type JWK } from 'oidc-provider';
import { certPair } from './stack';

export interface OidcUser {
  login: string;
  password: string;
  accountId: string;
  email: string;
}

export interface OidcProviderOptions {
  /** Redirect URIs registered for the one client. */
  redirectUris: string[];
  clientId?: string;
  clientSecret?: string;
  /** Access-token lifetime in seconds (default 30, short so a test can watch it expire). */
  accessTokenTtlSeconds?: number;
  /** Refresh-token lifetime in seconds (default 3600). */
  refreshTokenTtlSeconds?: number;
  /**
   * Issue a new refresh token on each refresh and invalidate the old one (default true — Slack,
   * QuickBooks and Salesforce-with-rotation behave so). Replaying a rotated-away refresh token
   * revokes the whole grant, as the library does.
   */
  rotateRefreshTokens?: boolean;
  /** API scopes the client may ask for besides openid/offline_access/profile/email. */
  extraScopes?: string[];
  /** The one account; a random password is generated when omitted. */
  user?: Partial<OidcUser>;
  /** Name of the stack certificate the server presents (SAN localhost). Default 'testkit'. */
  certName?: string;
}

export interface AuthorizeResult {
  /** Where the provider finally redirected the user agent (the client's redirect_uri + query). */
  redirectedTo: URL;
  code: string | null;
  state: string | null;
  /** `error` from the redirect (e.g. access_denied, invalid_request), if any. */
  error: string | null;
}

export interface TokenIntrospection {
  active: boolean;
  [claim: string]: unknown;
}

export interface OidcTestProvider {
  /** https://localhost:<port> — discovery at `${issuer}/.well-known/openid-configuration`. */
  issuer: string;
  port: number;
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  user: OidcUser;
  /** PEM of the CA that signed the server certificate (the stack CA). */
  ca: string;
  /**
   * Plays the browser: GET the authorization URL, follow the provider's redirects with a cookie
   * jar, submit the login form with `as` (default: the configured user), consent is automatic,
   * and stop at the first redirect that leaves the provider (the redirect_uri). Never follows it.
   */
  authorize(authorizationUrl: string, as?: { login: string; password: string }): Promise<AuthorizeResult>;
  /** RFC 7662 introspection as the registered client. */
  introspect(token: string): Promise<TokenIntrospection>;
  /** Direct access to the provider (e.g. to inspect `provider.Grant`); tests rarely need it. */
  provider: Provider;
  stop(): Promise<void>;
}

const FORM = (uid: string, message: string): string =>
  `<!doctype html><html><body><p>${message}</p>` +
  `<form method="post" action="/interaction/${uid}/login">` +
  '<input name="login" autocomplete="username"><input type="password" name="password">' +
  '<button type="submit">Sign in</button></form></body></html>';

function readBody(req: IncomingMessage, limit = 16_384): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Starts `oidc-provider` on 127.0.0.1 (random port) over HTTPS. Issuer host is `localhost`,
 * which the stack certificates carry as a SAN, so clients verify the server normally.
 */
export async function startOidcProvider(opts: OidcProviderOptions): Promise<OidcTestProvider> {
  const tls = certPair(opts.certName ?? 'testkit');
  const clientId = opts.clientId ?? `client_${randomBytes(6).toString('hex')}`;
  const clientSecret = opts.clientSecret ?? randomBytes(32).toString('base64url');
  const user: OidcUser = {
    login: opts.user?.login ?? 'ada',
    password: opts.user?.password ?? randomBytes(12).toString('base64url'),
    accountId: opts.user?.accountId ?? 'acc_ada',
    email: opts.user?.email ?? 'ada@example.test',
  };
  const rotate = opts.rotateRefreshTokens ?? true;

  // Listen first: the issuer must carry the port, and the provider is built with the issuer.
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server: Server = createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, (req, res) =>
    handler(req, res),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `https://localhost:${port}`;

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'RS256' } as JWK;

  const configuration: Configuration = {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: opts.redirectUris,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', 'profile', 'email', ...(opts.extraScopes ?? [])],
    claims: { openid: ['sub'], email: ['email'] },
    pkce: { required: () => true, methods: ['S256'] },
    features: {
      devInteractions: { enabled: false },
      // oidc-provider 8 lets a client revoke only its own tokens; introspection is narrowed to match.
      revocation: { enabled: true },
      introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: opts.accessTokenTtlSeconds ?? 30,
      AuthorizationCode: 60,
      IdToken: 300,
      Interaction: 300,
      Session: 3600,
      Grant: 3600,
      RefreshToken: opts.refreshTokenTtlSeconds ?? 3600,
    },
    rotateRefreshToken: () => rotate,
    findAccount: (_ctx, sub) =>
      sub === user.accountId
        ? { accountId: user.accountId, claims: () => ({ sub: user.accountId, email: user.email }) }
        : undefined,
  };
  const provider = new Provider(issuer, configuration);
  const callback = provider.callback();

  const interaction = async (req: IncomingMessage, res: ServerResponse, uid: string, action: string) => {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction mismatch');
    if (req.method === 'POST' && action === 'login') {
      const form = new URLSearchParams(await readBody(req));
      const ok =
        sameSecret(form.get('login') ?? '', user.login) && sameSecret(form.get('password') ?? '', user.password);
      if (!ok) {
        res.writeHead(401, { 'content-type': 'text/html', 'cache-control': 'no-store' });
        res.end(FORM(uid, 'Invalid login or password.'));
        return;
      }
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: user.accountId } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    if (req.method === 'POST' && action === 'abort') {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'End-User aborted interaction' },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    if (details.prompt.name === 'login') {
      res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' });
      res.end(FORM(uid, 'Sign in'));
      return;
    }
    if (details.prompt.name === 'consent') {
      // Automatic consent: grant exactly what the provider says is still missing.
      const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = details.prompt.details as {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      const accountId = details.session?.accountId;
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
      if (!grant) throw new Error('grant not found');
      if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
      if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return;
    }
    res.writeHead(501);
    res.end();
  };

  handler = (req, res) => {
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|abort))?(?:\?.*)?$/.exec(req.url ?? '');
    if (m?.[1]) {
      interaction(req, res, m[1], m[2] ?? '').catch(() => {
        if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
        res.end('interaction failed');
      });
      return;
    }
    void callback(req, res);
  };

  const raw = (
    url: URL,
    method: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> =>
    new Promise((resolve, reject) => {
      const req = httpsRequestRaw(url, { method, headers, ca: tls.ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });

  const authorize = async (
    authorizationUrl: string,
    as: { login: string; password: string } = user,
  ): Promise<AuthorizeResult> => {
    const jar = new Map<string, string>();
    const remember = (h: IncomingMessage['headers']) => {
      for (const c of h['set-cookie'] ?? []) {
        const [pair] = c.split(';');
        const eq = pair?.indexOf('=') ?? -1;
        if (pair && eq > 0) jar.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
    };
    const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let url = new URL(authorizationUrl);
    let method = 'GET';
    let body: string | undefined;
    for (let hop = 0; hop < 20; hop += 1) {
      if (url.origin !== new URL(issuer).origin) {
        const q = url.searchParams;
        return { redirectedTo: url, code: q.get('code'), state: q.get('state'), error: q.get('error') };
      }
      const headers: Record<string, string> = { cookie: cookieHeader() };
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await raw(url, method, headers, body);
      remember(res.headers);
      method = 'GET';
      body = undefined;
      if (res.status >= 300 && res.status < 400 && res.headers.location) {
        url = new URL(res.headers.location, url);
        continue;
      }
      const loginForm = /action="(\/interaction\/[^"]+\/login)"/.exec(res.body);
      if (res.status === 200 && loginForm?.[1]) {
        url = new URL(loginForm[1], issuer);
        method = 'POST';
        body = new URLSearchParams({ login: as.login, password: as.password }).toString();
        continue;
      }
      // The provider answered with an error page (e.g. invalid redirect_uri: it must not
      // redirect to an unregistered URI) or refused the login.
      throw new Error(`authorization stopped at ${url.pathname} with HTTP ${res.status}`);
    }
    throw new Error('authorization: too many redirects');
  };

  const introspect = async (token: string): Promise<TokenIntrospection> => {
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
    const res = await raw(
      new URL(`${issuer}/token/introspection`),
      'POST',
      { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      new URLSearchParams({ token }).toString(),
    );
    if (res.status !== 200) throw new Error(`introspection failed with HTTP ${res.status}`);
    return JSON.parse(res.body) as TokenIntrospection;
  };

  return {
    issuer,
    port,
    clientId,
    clientSecret,
    redirectUris: opts.redirectUris,
    user,
    ca: tls.ca,
    authorize,
    introspect,
    provider,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
