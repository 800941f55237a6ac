// Runs the real credential vault in-process against the real stack: a fresh database with the
// real migrations, a topic prefix of its own on the shared broker, TLS everywhere. Every log
// line the service writes is kept in memory so tests can search it for secrets. Identity tokens
// are minted as the gateway would. Resolve and the field routes are called as the flow engine (or
// another field service) would: its client certificate — signed at test time by the stack's CA,
// since the local stack runs no flow engine — and a service call signed with its own identity key,
// which the vault under test trusts. The principals a call acts for are real members of their
// company in the vault's replicated copy: the harness publishes auth's identity events for them.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createPublisher, OUTBOX_MIGRATIONS_DIR, type Publisher } from '@flow8/bus';
import { GRANT_REPLICA_MIGRATIONS_DIR } from '@flow8/grants';
import { buildEvent, eventsTopic, newId, type EventPayloads, type EventType } from '@flow8/contracts';
import {
  createIdentitySigner,
  createServiceCallSigner,
  ed25519RawPublicKey,
  INTERNAL_IDENTITY_HEADER,
  type ActingPrincipal,
  type InternalPrincipal,
  type ServiceCallSigner,
} from '@flow8/http';
import { createLogger } from '@flow8/telemetry';
import {
  certPair,
  eventually,
  freshDatabase,
  httpsRequest,
  readTopic,
  stackEnv,
  testKafka,
  provisionTopics,
  uniqueTopicPrefix,
  type HttpsResponse,
  type TestDatabase,
} from '@flow8/testkit';
import { vaultConfigSchema, type VaultConfig } from '../src/config';
import { createVault } from '../src/service';

export const VAULT_MIGRATIONS = [
  { component: 'bus', dir: OUTBOX_MIGRATIONS_DIR },
  { component: 'grants', dir: GRANT_REPLICA_MIGRATIONS_DIR },
  { component: 'vault', dir: fileURLToPath(new URL('../migrations', import.meta.url)) },
];

export const newKey = (): string => randomBytes(32).toString('base64');

/** The services the harness plays towards the vault, each with its own identity key. */
export const SERVICE_CALLERS = ['flow-engine', 'retention'] as const;
export type ServiceCaller = (typeof SERVICE_CALLERS)[number];

export function vaultEnv(
  db: TestDatabase,
  prefix: string,
  identityPublicKey: string,
  overrides: Record<string, string> = {},
  serviceKeys = '',
): Record<string, string> {
  const env = stackEnv();
  const tls = certPair('credential-vault');
  return {
    PORT: '8102',
    KAFKA_BROKERS: env.kafkaBrokers.join(','),
    FLOW8_CA_FILE: env.caFile,
    TLS_CERT_FILE: tls.certFile,
    TLS_KEY_FILE: tls.keyFile,
    VAULT_DATABASE_URL: db.appUrl,
    VAULT_RELAY_DATABASE_URL: db.relayUrl,
    KAFKA_TOPIC_PREFIX: prefix,
    VAULT_ALLOWED_CALLERS: 'gateway',
    VAULT_OPERATOR_CALLERS: 'operator',
    INTERNAL_IDENTITY_PUBLIC_KEYS: identityPublicKey,
    VAULT_SERVICE_IDENTITY_KEYS: serviceKeys,
    ENCRYPTION_KEY: newKey(),
    VAULT_REENCRYPT_INTERVAL: '1s',
    // Everything the service can say, so secret-leak checks see the most verbose output.
    LOG_LEVEL: 'trace',
    ...overrides,
  };
}

export type Principal = Partial<InternalPrincipal> & Pick<InternalPrincipal, 'tenantId' | 'id'>;

export interface StartOptions {
  db?: TestDatabase;
  prefix?: string;
  seed?: Buffer;
  overrides?: Record<string, string>;
  /** Shared log sink (several instances, one canary search). */
  lines?: string[];
  /** Identity-key seeds of the service callers (replicas of one deployment share them). */
  serviceSeeds?: Record<ServiceCaller, Buffer>;
  /** The vault's clock for OAuth2 token expiry (replicas of one test share one). */
  now?: () => Date;
}

/** What a service call names: the company and (optionally) whom it acts for. Never in a body. */
export interface CallAs {
  tenantId: string;
  /** Omitted: the company's Executor (a real member, created on first use). null: nobody. */
  actingFor?: ActingPrincipal | null;
  /** The calling service (certificate and key). Default flow-engine. */
  service?: ServiceCaller;
  /** The client certificate presented, when it should differ from the service (null: none). */
  cert?: string | null;
  /** A token to send instead of the one the service would sign (forgeries). */
  token?: string;
}

export async function startVault(opts: StartOptions = {}) {
  const db = opts.db ?? (await freshDatabase('VAULT', VAULT_MIGRATIONS));
  const prefix = opts.prefix ?? uniqueTopicPrefix();
  await provisionTopics(prefix);
  const seed = opts.seed ?? randomBytes(32);
  const signer = createIdentitySigner({ seed });
  const serviceSeeds =
    opts.serviceSeeds ??
    (Object.fromEntries(SERVICE_CALLERS.map((n) => [n, randomBytes(32)])) as Record<ServiceCaller, Buffer>);
  const services = Object.fromEntries(
    SERVICE_CALLERS.map((n) => [n, createServiceCallSigner({ service: n, seed: serviceSeeds[n] })]),
  ) as Record<ServiceCaller, ServiceCallSigner>;
  const serviceKeys = SERVICE_CALLERS.map(
    (n) => `${n}:${Buffer.from(ed25519RawPublicKey(serviceSeeds[n])).toString('base64')}`,
  ).join(',');
  const env = vaultEnv(
    db,
    prefix,
    Buffer.from(ed25519RawPublicKey(seed)).toString('base64'),
    opts.overrides,
    serviceKeys,
  );
  const config: VaultConfig = vaultConfigSchema.parse(env);
  const lines = opts.lines ?? [];
  const logger = createLogger({
    service: 'credential-vault',
    level: config.LOG_LEVEL,
    destination: { write: (line: string) => void lines.push(line) },
  });
  const svc = await createVault(config, logger, { now: opts.now });
  await svc.start();
  const url = await svc.app.listen({ host: '127.0.0.1', port: 0 });

  const identity = (p: Principal): Record<string, string> => ({
    'x-flow8-identity': signer.sign(
      { type: 'user', role: null, scopes: [], ip: '203.0.113.7', sessionId: null, ...p },
      'credential-vault',
    ),
  });

  const members = createMembers(db, prefix);
  const executors = new Map<string, Promise<ActingPrincipal>>();
  /** The company's Executor: a real member (user.created on the identity topic), made once. */
  const executorOf = (tenantId: string): Promise<ActingPrincipal> => {
    let p = executors.get(tenantId);
    if (!p) {
      p = members.user(tenantId, 'executor');
      executors.set(tenantId, p);
    }
    return p;
  };

  /** Headers and client certificate of a service call (the flow engine unless `as.service` says otherwise). */
  async function serviceCall(as: CallAs): Promise<{ cert: string | null; headers: Record<string, string> }> {
    const service = as.service ?? 'flow-engine';
    const actingFor = as.actingFor === undefined ? await executorOf(as.tenantId) : as.actingFor;
    const token = as.token ?? services[service].sign({ tenantId: as.tenantId, actingFor }, 'credential-vault');
    return { cert: as.cert === undefined ? service : as.cert, headers: { [INTERNAL_IDENTITY_HEADER]: token } };
  }

  return {
    db,
    prefix,
    seed,
    serviceSeeds,
    env,
    config,
    svc,
    url,
    /** Signers of the service callers (the flow engine's, retention's). */
    services,
    /** Adds real members to a company (identity events, waits until the vault's copy has them). */
    members,
    executorOf,
    /** A request as the gateway (mTLS CN gateway), with an identity token when `principal` is given. */
    call(
      method: string,
      path: string,
      o: { principal?: Principal; body?: unknown; cert?: string | null } = {},
    ): Promise<HttpsResponse> {
      return httpsRequest(`${url}${path}`, {
        method,
        as: o.cert === undefined ? 'gateway' : o.cert,
        headers: o.principal ? identity(o.principal) : {},
        body: o.body,
      });
    },
    /**
     * POST /internal/v1/credentials/:id/resolve as the flow engine: company and principal in its
     * signed call, the step's context in the body.
     */
    async resolve(id: string, as: CallAs, body: Record<string, unknown>): Promise<HttpsResponse> {
      const c = await serviceCall(as);
      return httpsRequest(`${url}/internal/v1/credentials/${id}/resolve`, {
        method: 'POST',
        as: c.cert,
        headers: c.headers,
        body,
      });
    },
    /** /internal/v1/fields/<path> as a field service (default the flow engine, acting on its own). */
    async fields(method: string, path: string, as: CallAs, body?: unknown): Promise<HttpsResponse> {
      const c = await serviceCall({ actingFor: null, ...as });
      return httpsRequest(`${url}/internal/v1/fields/${path}`, { method, as: c.cert, headers: c.headers, body });
    },
    logText: () => lines.join(''),
    async stop() {
      await svc.app.close();
      await svc.stop();
      await members.close();
    },
  };
}

/** Publishes auth's identity events for test principals and waits until the vault's copy has them. */
export function createMembers(db: TestDatabase, prefix: string) {
  let publisher: Publisher | null = null;
  async function publish<T extends EventType>(
    tenantId: string,
    type: T,
    resource: { type: string; id: string },
    payload: EventPayloads[T],
  ): Promise<void> {
    publisher ??= createPublisher(testKafka('vault-members'));
    const event = buildEvent({
      type,
      tenantId,
      actor: { type: 'operator', id: 'operator', ip: null },
      resource,
      payload,
    });
    await publisher.publish([
      {
        topic: eventsTopic('identity', prefix),
        key: tenantId,
        value: Buffer.from(JSON.stringify(event)),
        headers: { 'content-type': 'application/json', 'flow8-event-type': type, 'flow8-event-id': event.id },
      },
    ]);
  }
  const replicated = (tenantId: string, id: string, check: (r: { removed: boolean; role: string | null }) => boolean) =>
    eventually(
      async () => {
        const r = await db.admin.query<{ removed: boolean; role: string | null }>(
          'SELECT removed, role FROM principal_replica WHERE tenant_id = $1 AND principal_id = $2',
          [tenantId, id],
        );
        return r.rows[0] && check(r.rows[0]) ? true : undefined;
      },
      { what: `principal ${id} replicated`, timeoutMs: 20_000 },
    );
  type Role = 'admin' | 'flow_designer' | 'executor' | 'viewer';
  return {
    publish,
    /** A new user of the company with this role (identity.user.created). */
    async user(tenantId: string, role: Role, id = newId('usr')): Promise<ActingPrincipal & { type: 'user' }> {
      await publish(tenantId, 'identity.user.created', { type: 'user', id }, { userId: id, role });
      await replicated(tenantId, id, (r) => r.role === role);
      return { type: 'user', id };
    },
    async changeRole(tenantId: string, userId: string, oldRole: Role, newRole: Role): Promise<void> {
      await publish(
        tenantId,
        'identity.user.role_changed',
        { type: 'user', id: userId },
        { userId, oldRole, newRole, emailChanged: false },
      );
      await replicated(tenantId, userId, (r) => r.role === newRole);
    },
    async removeUser(tenantId: string, userId: string, role: Role): Promise<void> {
      await publish(
        tenantId,
        'identity.user.removed',
        { type: 'user', id: userId },
        { userId, role, sessionsEnded: 0 },
      );
      await replicated(tenantId, userId, (r) => r.removed);
    },
    /** A new API key of `ownerId` (identity.api_key.created), valid for a day. */
    async apiKey(tenantId: string, ownerId: string, scopes: string[]): Promise<ActingPrincipal & { type: 'api_key' }> {
      const keyId = newId('key');
      const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
      await publish(
        tenantId,
        'identity.api_key.created',
        { type: 'api_key', id: keyId },
        { keyId, ownerId, scopes: scopes as [string, ...string[]], cidrsCount: 0, expiresAt },
      );
      await replicated(tenantId, keyId, () => true);
      return { type: 'api_key', id: keyId };
    },
    async revokeKey(tenantId: string, keyId: string, ownerId: string, scopes: string[]): Promise<void> {
      await publish(
        tenantId,
        'identity.api_key.revoked',
        { type: 'api_key', id: keyId },
        {
          keyId,
          ownerId,
          scopes: scopes as [string, ...string[]],
          cidrsCount: 0,
          expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        },
      );
      await replicated(tenantId, keyId, (r) => r.removed);
    },
    async close(): Promise<void> {
      await publisher?.disconnect();
      publisher = null;
    },
  };
}

export type VaultHarness = Awaited<ReturnType<typeof startVault>>;

export const newTenant = (): string => newId('ten');

export const admin = (tenantId: string): Principal => ({ tenantId, id: newId('usr'), role: 'admin' });
export const designer = (tenantId: string): Principal => ({ tenantId, id: newId('usr'), role: 'flow_designer' });

export interface VaultEvent {
  id: string;
  type: string;
  tenantId: string;
  actor: { type: string; id: string };
  resource: { type: string; id: string };
  purpose: string | null;
  payload: Record<string, unknown>;
}

/** Every event on the vault topic of this prefix so far (waits until at least `expect`). */
export async function vaultEvents(prefix: string, expect?: number): Promise<{ events: VaultEvent[]; raw: string[] }> {
  const kafka = testKafka();
  const msgs = await readTopic(
    kafka,
    eventsTopic('vault', prefix),
    expect === undefined ? {} : { expect, timeoutMs: 20_000 },
  );
  const raw = msgs.map((m) => m.value?.toString('utf8') ?? '');
  return { events: raw.map((r) => JSON.parse(r) as VaultEvent), raw };
}

/** The step context of a resolve (the body). Company and principal go in the signed call (CallAs). */
