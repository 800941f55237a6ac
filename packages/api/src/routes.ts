// The route table: every public route of the gateway, once. The gateway registers its routes
// from it (schemas, handler by owning service), gates each request with its access rule through
// @flow8/authz, and serves the OpenAPI document generated from those registrations; the owning
// service validates with the same schema objects. How to add a route: packages/api/README.md.
import type { HttpMethod, RouteRule } from '@flow8/authz';
import * as audit from './audit';
import * as credentials from './credentials';
import * as flows from './flows';
import * as identity from './identity';
import type { ErrorStatus } from './openapi';

/** Which service answers a route: the gateway forwards to it. `gateway`: answered by the gateway itself. */
export type Upstream = 'auth' | 'credential-vault' | 'audit-ingest' | 'flow-engine' | 'gateway';

export type Section = 'identity' | 'credentials' | 'audit' | 'flows';

/** JSON Schemas of one route, as Fastify takes them; `response` by status code. */
export interface RouteSchemas {
  params?: object;
  querystring?: object;
  body?: object;
  response: Readonly<Record<number, object>>;
}

export type RouteSpec = RouteRule & {
  section: Section;
  /** The service the gateway forwards to, which validates again with `schema`. */
  upstream: Upstream;
  summary: string;
  /** Who may call and what else a client should know (OpenAPI). */
  description?: string;
  /** OpenAPI tags; the section when absent. */
  tags?: readonly string[];
  schema: RouteSchemas;
  /** OpenAPI descriptions of the route's own responses, by status. */
  responses?: Readonly<Record<number, string>>;
  /** Error statuses beyond the ones every guarded route can give (400 401 403 429 500 503). */
  errors?: readonly ErrorStatus[];
  /** A streamed answer's media types (OpenAPI); the route is not JSON. */
  produces?: readonly string[];
};

const SESSION_OR_KEY = ['session', 'api_key'] as const;
const SESSION = ['session'] as const;

const writers = 'Admin or Flow Designer (or an API key of theirs with the scope).';
const narrowed = ' Integration grants narrow a principal to the granted integrations (see identity-and-access.md).';
const flowEditors = 'Admin or Flow Designer; flow grants restrict a designer to the granted flows.';
const flowReaders = 'Admin, Flow Designer, Executor or Viewer (narrowed by flow grants).';
const runners =
  'Admin or Executor (or an API key of theirs with scope `flows:execute`), narrowed by flow and partition grants.';
const historyReaders =
  'Admin, Executor or Viewer (or by a `read` grant on the flow), narrowed by flow and partition grants.';
const readers =
  'Admin, Viewer, or an API key with scope `audit:read`. The read is itself audited, with the caller and client IP.';

export const ROUTES: readonly RouteSpec[] = [
  // § Identity and access (auth)
  {
    section: 'identity',
    method: 'POST',
    path: '/v1/auth/login',
    upstream: 'auth',
    permission: 'public',
    auth: [],
    summary: 'Sign in with e-mail and password; sets the session cookie',
    description:
      'Sets `__Host-flow8_session` (Secure, HttpOnly, SameSite=Strict, 1 h). The body carries the CSRF token for later writes; the session token itself is only ever in the cookie.',
    schema: identity.login,
  },
  {
    section: 'identity',
    method: 'POST',
    path: '/v1/auth/logout',
    upstream: 'auth',
    permission: 'authenticated',
    auth: SESSION,
    summary: 'End the session everywhere and clear the cookie',
    schema: identity.logout,
    responses: { 204: 'Signed out' },
  },
  {
    section: 'identity',
    method: 'GET',
    path: '/v1/me',
    upstream: 'gateway',
    permission: 'authenticated',
    auth: SESSION_OR_KEY,
    summary: 'Who am I: user or API key, tenant, role, effective permissions',
    schema: identity.me,
  },
  {
    section: 'identity',
    method: 'POST',
    path: '/v1/me/password',
    upstream: 'auth',
    permission: 'authenticated',
    auth: SESSION,
    summary: 'Change one’s own password (session only)',
    description:
      'The current password is required (wrong: 403). Ends **every** session of the user, this one ' +
      'included: the cookie is cleared and the user signs in again with the new password. The new ' +
      'password must pass the password policy (400 with the reason).',
    schema: identity.changePassword,
    responses: { 204: 'Changed; every session of the user ended' },
  },
  {
    section: 'identity',
    method: 'GET',
    path: '/v1/users',
    upstream: 'auth',
    permission: 'users:read',
    auth: SESSION_OR_KEY,
    summary: 'List the company’s users (Admin)',
    schema: identity.listUsers,
  },
  {
    section: 'identity',
    method: 'POST',
    path: '/v1/users',
    upstream: 'auth',
    permission: 'users:write',
    auth: SESSION_OR_KEY,
    summary: 'Create a user (Admin)',
    schema: identity.createUser,
    errors: [409],
  },
  {
    section: 'identity',
    method: 'GET',
    path: '/v1/users/:id',
    upstream: 'auth',
    permission: 'users:read',
    auth: SESSION_OR_KEY,
    summary: 'Read a user (Admin)',
    schema: identity.getUser,
    errors: [404],
  },
  {
    section: 'identity',
    method: 'PATCH',
    path: '/v1/users/:id',
    upstream: 'auth',
    permission: 'users:write',
    auth: SESSION_OR_KEY,
    summary: 'Change a user’s e-mail or role (Admin)',
    schema: identity.updateUser,
    errors: [404],
  },
  {
    section: 'identity',
    method: 'DELETE',
    path: '/v1/users/:id',
    upstream: 'auth',
    permission: 'users:write',
    auth: SESSION_OR_KEY,
    summary: 'Remove a user (Admin)',
    schema: identity.removeUser,
    responses: { 204: 'Removed' },
    errors: [404],
  },
  {
    section: 'identity',
    method: 'GET',
    path: '/v1/grants',
    upstream: 'auth',
    permission: 'grants:read',
    auth: SESSION_OR_KEY,
    summary: 'List entity grants (Admin)',
    schema: identity.listGrants,
  },
  {
    section: 'identity',
    method: 'POST',
    path: '/v1/grants',
    upstream: 'auth',
    permission: 'grants:write',
    auth: SESSION_OR_KEY,
    summary: 'Grant actions on a flow, integration or partition (Admin)',
    schema: identity.giveGrant,
    errors: [404, 409],
  },
  {
    section: 'identity',
    method: 'DELETE',
    path: '/v1/grants/:id',
    upstream: 'auth',
    permission: 'grants:write',
    auth: SESSION_OR_KEY,
    summary: 'Revoke a grant (Admin)',
    schema: identity.removeGrant,
    responses: { 204: 'Revoked' },
    errors: [404],
  },
  {
    section: 'identity',
    method: 'GET',
    path: '/v1/partitions',
    upstream: 'auth',
    permission: 'partitions:read',
    auth: SESSION_OR_KEY,
    summary: 'List data partitions (Admin)',
    schema: identity.listPartitions,
  },
  {
    section: 'identity',
    method: 'POST',
    path: '/v1/partitions',
    upstream: 'auth',
    permission: 'partitions:write',
    auth: SESSION_OR_KEY,
    summary: 'Create a data partition (Admin)',
    schema: identity.createPartition,
    errors: [409],
  },
  {
    section: 'identity',
    method: 'GET',
    path: '/v1/api-keys',
    upstream: 'auth',
    permission: 'api_keys:read',
    ownPermission: 'api_keys:read_own',
    auth: SESSION_OR_KEY,
    summary: 'List API keys (Admin: all; others: their own)',
    schema: identity.listApiKeys,
  },
  {
    section: 'identity',
    method: 'POST',
    path: '/v1/api-keys',
    upstream: 'auth',
    permission: 'api_keys:write',
    ownPermission: 'api_keys:write_own',
    auth: SESSION_OR_KEY,
    summary: 'Create an API key; the token is shown once',
    schema: identity.createApiKey,
  },
  {
    section: 'identity',
    method: 'POST',
    path: '/v1/api-keys/:id/rotate',
    upstream: 'auth',
    permission: 'api_keys:write',
    ownPermission: 'api_keys:write_own',
    auth: SESSION_OR_KEY,
    summary: 'Rotate an API key: the old token stops working at once',
    schema: identity.rotateApiKey,
    errors: [404],
  },
  {
    section: 'identity',
    method: 'DELETE',
    path: '/v1/api-keys/:id',
    upstream: 'auth',
    permission: 'api_keys:write',
    ownPermission: 'api_keys:write_own',
    auth: SESSION_OR_KEY,
    summary: 'Revoke an API key, effective at every gateway replica at once',
    schema: identity.revokeApiKey,
    responses: { 204: 'Revoked' },
    errors: [404],
  },
  {
    section: 'identity',
    method: 'GET',
    path: '/v1/settings/ip-allowlist',
    upstream: 'auth',
    permission: 'settings:read',
    auth: SESSION_OR_KEY,
    summary: 'The company’s IP allowlist (Admin); empty means no restriction',
    schema: identity.getAllowlist,
  },
  {
    section: 'identity',
    method: 'PUT',
    path: '/v1/settings/ip-allowlist',
    upstream: 'auth',
    permission: 'settings:write',
    auth: SESSION_OR_KEY,
    summary: 'Replace the company’s IP allowlist (Admin)',
    schema: identity.putAllowlist,
  },
  {
    section: 'identity',
    method: 'POST',
    path: '/v1/tenants',
    upstream: 'auth',
    permission: 'operator',
    auth: ['operator'],
    tags: ['operator'],
    summary: 'Create a company and its first Admin (platform operator token)',
    schema: identity.createTenant,
    errors: [409],
  },

  // § Credentials (credential-vault). The vault decides per credential.
  {
    section: 'credentials',
    method: 'GET',
    path: '/v1/credentials',
    upstream: 'credential-vault',
    permission: 'credentials:read',
    auth: SESSION_OR_KEY,
    summary: 'List the company’s integration credentials (metadata only)',
    description: `${writers}${narrowed}`,
    schema: credentials.listCredentials,
  },
  {
    section: 'credentials',
    method: 'POST',
    path: '/v1/credentials',
    upstream: 'credential-vault',
    permission: 'credentials:write',
    auth: SESSION_OR_KEY,
    summary: 'Store an integration credential; the secret is sealed and never returned',
    description: `${writers} \`scopes\` must come from the integration’s catalogue.${narrowed}`,
    schema: credentials.createCredential,
    responses: { 201: 'Stored: its metadata' },
  },
  {
    section: 'credentials',
    method: 'GET',
    path: '/v1/credentials/:id',
    upstream: 'credential-vault',
    permission: 'credentials:read',
    auth: SESSION_OR_KEY,
    summary: 'One credential’s metadata',
    description: writers,
    schema: credentials.getCredential,
    errors: [404],
  },
  {
    section: 'credentials',
    method: 'POST',
    path: '/v1/credentials/:id/rotate',
    upstream: 'credential-vault',
    permission: 'credentials:write',
    auth: SESSION_OR_KEY,
    summary: 'Rotate a credential: a new version; the previous secret is destroyed',
    description: `${writers} A revoked credential cannot be rotated (409).`,
    schema: credentials.rotateCredential,
    errors: [404, 409],
  },
  {
    section: 'credentials',
    method: 'DELETE',
    path: '/v1/credentials/:id',
    upstream: 'credential-vault',
    permission: 'credentials:write',
    auth: SESSION_OR_KEY,
    summary: 'Revoke a credential: refused for every use from this moment',
    description:
      `${writers} Already revoked: 409. An \`oauth2\` credential connected through the OAuth2 routes ` +
      'answers 200 and says whether its grant was also revoked at the provider; a provider failure never ' +
      'undoes the local revocation.',
    schema: credentials.revokeCredential,
    responses: { 200: 'Revoked here; `providerRevocation` is the outcome at the OAuth2 provider', 204: 'Revoked' },
    errors: [404, 409],
  },
  // OAuth2 (authorization code + PKCE). The provider redirects the browser to the frontend page
  // registered as the vault's VAULT_OAUTH_REDIRECT_URI; that page (same site as this API, so the
  // SameSite=Strict session cookie is sent) passes `state`, `code` and `iss` on to the callback.
  // The callback is a GET but creates a credential: it needs the same permission as a create, and
  // the vault also requires the caller to be the user who started, in the same company, once.
  {
    section: 'credentials',
    method: 'POST',
    path: '/v1/credentials/oauth/:integration/start',
    upstream: 'credential-vault',
    permission: 'credentials:write',
    auth: SESSION_OR_KEY,
    summary: 'Start connecting an integration with OAuth2: the URL to send the user to',
    description:
      `${writers} \`scopes\` are flow8 scopes from the integration’s catalogue; 400 if the integration ` +
      'is not configured for OAuth2. The `state` is single use, bound to this user and company, and expires ' +
      'at `expiresAt`.',
    schema: credentials.startOAuth,
    responses: { 200: 'Send the browser to `authorizationUrl`' },
  },
  {
    section: 'credentials',
    method: 'GET',
    path: '/v1/credentials/oauth/callback',
    upstream: 'credential-vault',
    permission: 'credentials:write',
    auth: SESSION_OR_KEY,
    summary: 'Finish connecting an integration: the provider’s answer becomes an oauth2 credential',
    description:
      `${writers} Called by the frontend page the provider redirected to, with the query it received ` +
      '(`state`, `code`, `iss`, or `error`), by the user who started. The state is spent whatever the ' +
      'outcome. Unknown, used, expired or another user’s state, another issuer, or a refusal at the ' +
      'provider: 400 with `details.reason`; provider unreachable: 503. The tokens are sealed by the vault ' +
      'and never returned.',
    schema: credentials.oauthCallback,
    responses: { 201: 'Connected: the new credential’s metadata' },
  },
  {
    section: 'credentials',
    method: 'POST',
    path: '/v1/keys/rotate',
    upstream: 'credential-vault',
    permission: 'keys:rotate',
    auth: SESSION_OR_KEY,
    summary: 'Rotate the company’s data key (records are re-encrypted in the background)',
    description: 'Admin. While a previous rotation still re-encrypts, answers 200 with its progress.',
    schema: credentials.rotateKeys,
    responses: { 200: 'A rotation is already in progress', 202: 'Rotation started' },
  },
  {
    section: 'credentials',
    method: 'GET',
    path: '/v1/keys',
    upstream: 'credential-vault',
    permission: 'keys:rotate',
    auth: SESSION_OR_KEY,
    summary: 'The company’s data keys and the re-encryption progress',
    description: 'Admin.',
    schema: credentials.listKeys,
  },

  // § Audit (audit-ingest)
  {
    section: 'audit',
    method: 'GET',
    path: '/v1/audit/events',
    upstream: 'audit-ingest',
    permission: 'audit:read',
    auth: SESSION_OR_KEY,
    summary: 'Query the audit trail',
    description: readers,
    schema: audit.listEvents,
  },
  {
    section: 'audit',
    method: 'GET',
    path: '/v1/audit/export',
    upstream: 'audit-ingest',
    permission: 'audit:read',
    auth: SESSION_OR_KEY,
    summary: 'Stream an export of the audit ledger (NDJSON with hashes and canonical bytes, or CSV)',
    description: `${readers} Verify an NDJSON export offline with \`pnpm audit:verify\`.`,
    schema: { querystring: audit.exportLedger.querystring, response: { 200: { type: 'string' } } },
    responses: { 200: 'The export, streamed' },
    produces: ['application/x-ndjson', 'text/csv'],
  },
  {
    section: 'audit',
    method: 'GET',
    path: '/v1/audit/verify',
    upstream: 'audit-ingest',
    permission: 'audit:read',
    auth: SESSION_OR_KEY,
    summary: 'Verify the company’s hash chain and checkpoints',
    description: readers,
    schema: audit.verifyLedger,
  },
  {
    section: 'audit',
    method: 'GET',
    path: '/v1/audit/checkpoints',
    upstream: 'audit-ingest',
    permission: 'audit:read',
    auth: SESSION_OR_KEY,
    summary: 'Signed checkpoints and the public keys that verify them',
    description: readers,
    schema: audit.listCheckpoints,
  },
  // § Flows and executions (flow-engine)
  {
    section: 'flows',
    method: 'POST',
    path: '/v1/flows',
    upstream: 'flow-engine',
    permission: 'flows:write',
    auth: SESSION_OR_KEY,
    summary: 'Create a flow (version 1, draft)',
    description: flowEditors,
    schema: flows.createFlow,
    responses: { 201: 'Created' },
  },
  {
    section: 'flows',
    method: 'GET',
    path: '/v1/flows',
    upstream: 'flow-engine',
    permission: 'flows:read',
    auth: SESSION_OR_KEY,
    summary: 'List flows',
    description: flowReaders,
    schema: flows.listFlows,
  },
  {
    section: 'flows',
    method: 'GET',
    path: '/v1/flows/:id',
    upstream: 'flow-engine',
    permission: 'flows:read',
    auth: SESSION_OR_KEY,
    summary: 'Read a flow',
    description: flowReaders,
    schema: flows.getFlow,
    errors: [404],
  },
  {
    section: 'flows',
    method: 'POST',
    path: '/v1/flows/:id/versions',
    upstream: 'flow-engine',
    permission: 'flows:write',
    auth: SESSION_OR_KEY,
    summary: 'Save a new immutable version',
    description: flowEditors,
    schema: flows.saveVersion,
    responses: { 201: 'Saved' },
    errors: [404, 409],
  },
  {
    section: 'flows',
    method: 'GET',
    path: '/v1/flows/:id/versions',
    upstream: 'flow-engine',
    permission: 'flows:read',
    auth: SESSION_OR_KEY,
    summary: 'List a flow’s versions, newest first',
    description: flowReaders,
    schema: flows.listVersions,
    errors: [404],
  },
  {
    section: 'flows',
    method: 'GET',
    path: '/v1/flows/:id/versions/:version',
    upstream: 'flow-engine',
    permission: 'flows:read',
    auth: SESSION_OR_KEY,
    summary: 'Read one version with its definition',
    description: flowReaders,
    schema: flows.getVersion,
    errors: [404],
  },
  {
    section: 'flows',
    method: 'POST',
    path: '/v1/flows/:id/publish',
    upstream: 'flow-engine',
    permission: 'flows:write',
    auth: SESSION_OR_KEY,
    summary: 'Publish a version',
    description: flowEditors,
    schema: flows.publishFlow,
    errors: [404, 409],
  },
  {
    section: 'flows',
    method: 'POST',
    path: '/v1/flows/:id/archive',
    upstream: 'flow-engine',
    permission: 'flows:write',
    auth: SESSION_OR_KEY,
    summary: 'Archive a flow',
    description: flowEditors,
    schema: flows.archiveFlow,
    errors: [404, 409],
  },
  {
    section: 'flows',
    method: 'POST',
    path: '/v1/flows/:id/executions',
    upstream: 'flow-engine',
    permission: 'flows:execute',
    auth: SESSION_OR_KEY,
    summary: 'Run the published version now (manual run)',
    description: `${runners} The body is the input, validated against the published version’s input schema (400 names the field). Input and output are not sealed yet.`,
    schema: flows.runFlow,
    responses: { 201: 'Started' },
    errors: [404, 409],
  },
  {
    section: 'flows',
    method: 'GET',
    path: '/v1/executions',
    upstream: 'flow-engine',
    permission: 'executions:read',
    auth: SESSION_OR_KEY,
    summary: 'List executions (filters: flowId, status)',
    description: historyReaders,
    schema: flows.listExecutions,
  },
  {
    section: 'flows',
    method: 'GET',
    path: '/v1/executions/:id',
    upstream: 'flow-engine',
    permission: 'executions:read',
    auth: SESSION_OR_KEY,
    summary: 'Read an execution with its step runs',
    description: historyReaders,
    schema: flows.getExecution,
    errors: [404],
  },
  {
    section: 'flows',
    method: 'POST',
    path: '/v1/executions/:id/cancel',
    upstream: 'flow-engine',
    permission: 'flows:execute',
    auth: SESSION_OR_KEY,
    summary: 'Cancel a running execution',
    description: runners,
    schema: flows.cancelExecution,
    errors: [404, 409],
  },
];

export const routeKey = (r: { method: string; path: string }): string => `${r.method} ${r.path}`;

const SAFE_METHODS: ReadonlySet<HttpMethod> = new Set<HttpMethod>(['GET']);

/** A cookie-authenticated request to this route must carry a valid CSRF token. */
export function csrfRequired(route: RouteSpec): boolean {
  return route.auth.some((k) => k === 'session') && !SAFE_METHODS.has(route.method);
}

/** The route a request hits, or undefined. The query string is ignored; a trailing slash is not. */
export function matchRoute(method: string, url: string, routes: readonly RouteSpec[] = ROUTES): RouteSpec | undefined {
  const path = url.split('?')[0] ?? '';
  const segments = path.split('/');
  const m = method.toUpperCase();
  return routes.find((r) => {
    if (r.method !== m) return false;
    const pattern = r.path.split('/');
    if (pattern.length !== segments.length) return false;
    return pattern.every((p, i) => {
      const s = segments[i]!;
      return p.startsWith(':') ? s !== '' && !s.includes('/') : p === s;
    });
  });
}
