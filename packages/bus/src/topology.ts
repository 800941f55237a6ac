// The bus's topology in one place: which topics exist, how long each keeps its messages, and which
// principal may do what on them. `provisionBus` applies it with an admin client (the
// `kafka-admin` principal, a Kafka super user); services never create topics or ACLs themselves,
// they only check at start-up that the topics they use exist (`requireTopics`).
//
// Principals are certificate CNs: the broker maps `CN=<name>,...` to `User:<name>`
// (ssl.principal.mapping.rules) and StandardAuthorizer denies whatever no ACL allows.
import kafkajs, { type AclEntry, type Kafka } from 'kafkajs';
import { DOMAINS, commandsTopic, dlqTopic, eventsTopic, type Domain } from '@flow8/contracts';
import { topicEndOffsets } from './kafka';

// kafkajs is CommonJS and these enums are not visible to ESM's named-export detection.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ConfigResourceTypes, ResourcePatternTypes } = kafkajs;
type AclOperationTypes = kafkajs.AclOperationTypes;
type AclResourceTypes = kafkajs.AclResourceTypes;
type ResourcePatternTypes = kafkajs.ResourcePatternTypes;

const DAY_MS = 24 * 3600_000;

/**
 * How long an events topic keeps a message, by domain (`-1`: forever). The guarantee it backs: an
 * event written to Kafka reaches the audit ledger as long as audit-ingest (or a dead-letter replay)
 * catches up within `EVENTS_RETENTION_DAYS` days. The identity topic is never trimmed by age: other
 * services rebuild their copy of the grants from it (packages/grants).
 */
export const EVENTS_RETENTION_DAYS = 30;
export function eventsRetentionMs(domain: Domain | string): number {
  return domain === 'identity' ? -1 : EVENTS_RETENTION_DAYS * DAY_MS;
}

/**
 * Topic settings beyond the broker's defaults. Every flow8 topic states its retention explicitly, so
 * a broker's `log.retention.*` (7 days by default, 24 h in the local stack) never decides how long
 * audit events live. Dead letters are kept until an operator has replayed them (never by age);
 * `retention.bytes=-1`: no size cap trims either.
 */
export function topicConfig(domain: Domain | string, kind: 'events' | 'commands' | 'dlq'): Record<string, string> {
  // Commands are work, not record: Postgres holds the truth (a lost command is re-issued from the
  // step row), so a week covers any outage of the consumer.
  const retention =
    kind === 'dlq' ? -1 : kind === 'commands' ? COMMANDS_RETENTION_DAYS * DAY_MS : eventsRetentionMs(domain);
  return { 'cleanup.policy': 'delete', 'retention.ms': String(retention), 'retention.bytes': '-1' };
}

/** How long a commands topic keeps a message. */
export const COMMANDS_RETENTION_DAYS = 7;

/** Domains with a work topic (`flow8.<domain>.commands.v1`). */
export const COMMAND_DOMAINS = ['flow'] as const;

/** What a service principal may do on the bus: produce its own domain's events, consume with its own group. */
export interface BusRole {
  /** The CN of the service's certificate. */
  principal: string;
  /** Domains whose events topic this service writes (through its outbox relay). */
  produces: readonly Domain[];
  /** Domains it consumes, with the consumer group it uses (before the installation's topic prefix). */
  consumes: ReadonlyArray<{ domains: readonly Domain[]; group: string }>;
  /**
   * Work topics it both writes (through its outbox, in the transaction that decides the work) and
   * reads with its own group; it also writes their dead-letter topics.
   */
  commands?: { domains: readonly (typeof COMMAND_DOMAINS)[number][]; group: string };
}

/** The service principals and their rights. A consumer also writes the dead-letter topics of what it consumes. */
export const BUS_ROLES: Readonly<Record<string, BusRole>> = {
  auth: { principal: 'auth', produces: ['identity'], consumes: [] },
  'credential-vault': {
    principal: 'credential-vault',
    produces: ['vault'],
    consumes: [{ domains: ['identity'], group: 'credential-vault.grants' }],
  },
  'audit-ingest': {
    principal: 'audit-ingest',
    produces: ['audit'],
    consumes: [{ domains: DOMAINS, group: 'audit-ingest' }],
  },
  'flow-engine': {
    principal: 'flow-engine',
    produces: ['flow'],
    consumes: [{ domains: ['identity'], group: 'flow-engine.grants' }],
    commands: { domains: ['flow'], group: 'flow-engine' },
  },
};

/** The principal that provisions topics and ACLs and replays dead letters (a broker super user). */
export const ADMIN_PRINCIPAL = 'kafka-admin';

/** The topics a service needs at start-up, under the installation's prefix. */
export function topicsOf(service: string, prefix = ''): string[] {
  const role = BUS_ROLES[service];
  if (!role) throw new Error(`no bus role for service ${service}`);
  const out = role.produces.map((d) => eventsTopic(d, prefix));
  for (const c of role.consumes) {
    for (const d of c.domains) out.push(eventsTopic(d, prefix), dlqTopic(eventsTopic(d, prefix)));
  }
  for (const d of role.commands?.domains ?? []) out.push(commandsTopic(d, prefix), dlqTopic(commandsTopic(d, prefix)));
  return [...new Set(out)];
}

const acl = (
  principal: string,
  resourceType: AclResourceTypes,
  resourceName: string,
  operation: AclOperationTypes,
  resourcePatternType: ResourcePatternTypes = ResourcePatternTypes.LITERAL,
): AclEntry => ({
  principal: `User:${principal}`,
  host: '*',
  resourceType,
  resourceName,
  resourcePatternType,
  operation,
  permissionType: AclPermissionTypes.ALLOW,
});

/**
 * Every ACL binding of an installation (topic prefix `prefix`). With `testPrincipal`, that principal
 * may also read and write every topic under a non-empty prefix and use `<testPrincipal>-*` consumer
 * groups: the integration tests' own client, never a service's, never in production.
 */
export function busAcls(prefix = '', opts: { testPrincipal?: string } = {}): AclEntry[] {
  const out: AclEntry[] = [];
  for (const role of Object.values(BUS_ROLES)) {
    for (const d of role.produces) {
      out.push(acl(role.principal, AclResourceTypes.TOPIC, eventsTopic(d, prefix), AclOperationTypes.WRITE));
    }
    for (const c of role.consumes) {
      out.push(acl(role.principal, AclResourceTypes.GROUP, `${prefix}${c.group}`, AclOperationTypes.READ));
      for (const d of c.domains) {
        const topic = eventsTopic(d, prefix);
        out.push(acl(role.principal, AclResourceTypes.TOPIC, topic, AclOperationTypes.READ));
        out.push(acl(role.principal, AclResourceTypes.TOPIC, dlqTopic(topic), AclOperationTypes.WRITE));
      }
    }
    if (role.commands) {
      out.push(acl(role.principal, AclResourceTypes.GROUP, `${prefix}${role.commands.group}`, AclOperationTypes.READ));
      for (const d of role.commands.domains) {
        const topic = commandsTopic(d, prefix);
        out.push(acl(role.principal, AclResourceTypes.TOPIC, topic, AclOperationTypes.WRITE));
        out.push(acl(role.principal, AclResourceTypes.TOPIC, topic, AclOperationTypes.READ));
        out.push(acl(role.principal, AclResourceTypes.TOPIC, dlqTopic(topic), AclOperationTypes.WRITE));
      }
    }
  }
  if (opts.testPrincipal) {
    if (!prefix) throw new Error('the test principal is only granted topics under a test prefix');
    for (const op of [AclOperationTypes.READ, AclOperationTypes.WRITE]) {
      out.push(acl(opts.testPrincipal, AclResourceTypes.TOPIC, prefix, op, ResourcePatternTypes.PREFIXED));
    }
    out.push(
      acl(
        opts.testPrincipal,
        AclResourceTypes.GROUP,
        `${opts.testPrincipal}-`,
        AclOperationTypes.READ,
        ResourcePatternTypes.PREFIXED,
      ),
    );
  }
  return out;
}

/** Every topic of an installation with its settings. */
export function busTopics(prefix = ''): Array<{ topic: string; config: Record<string, string> }> {
  return [
    ...DOMAINS.flatMap((d) => [
      { topic: eventsTopic(d, prefix), config: topicConfig(d, 'events') },
      { topic: dlqTopic(eventsTopic(d, prefix)), config: topicConfig(d, 'dlq') },
    ]),
    ...COMMAND_DOMAINS.flatMap((d) => [
      { topic: commandsTopic(d, prefix), config: topicConfig(d, 'commands') },
      { topic: dlqTopic(commandsTopic(d, prefix)), config: topicConfig(d, 'dlq') },
    ]),
  ];
}

const isRetriable = (e: unknown): boolean => {
  const err = e as { retriable?: unknown; cause?: { retriable?: unknown } };
  return err.retriable === true || err.cause?.retriable === true;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ProvisionResult {
  created: string[];
  configured: string[];
  acls: number;
}

/**
 * Creates the installation's topics (missing ones), sets every topic's retention to the policy
 * above (existing ones too: an upgrade fixes an old topic's settings), and creates the ACLs.
 * Idempotent. `kafka` must authenticate as the admin principal.
 */
export async function provisionBus(
  kafka: Kafka,
  opts: { prefix?: string; partitions?: number; replicationFactor?: number; testPrincipal?: string } = {},
): Promise<ProvisionResult> {
  const prefix = opts.prefix ?? '';
  const topics = busTopics(prefix);
  const acls = busAcls(prefix, opts.testPrincipal ? { testPrincipal: opts.testPrincipal } : {});
  const admin = kafka.admin();
  await admin.connect();
  let created: string[] = [];
  try {
    for (let attempt = 1; ; attempt += 1) {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.topic));
      if (missing.length === 0) break;
      try {
        await admin.createTopics({
          waitForLeaders: false,
          topics: missing.map((t) => ({
            topic: t.topic,
            numPartitions: opts.partitions ?? 3,
            replicationFactor: opts.replicationFactor ?? 1,
            configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
          })),
        });
        created = missing.map((t) => t.topic);
        break;
      } catch (e) {
        if (!isRetriable(e) || attempt >= 5) throw e;
        await sleep(200 * attempt);
      }
    }
    // AlterConfigs replaces a topic's dynamic settings with exactly these: the policy, nothing else.
    await admin.alterConfigs({
      validateOnly: false,
      resources: topics.map((t) => ({
        type: ConfigResourceTypes.TOPIC,
        name: t.topic,
        configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
      })),
    });
    // The broker keeps one copy of an identical binding: creating it again is a no-op.
    await admin.createAcls({ acl: acls });
    // CreateAcls answers once the controller has the bindings; the broker's authorizer learns them
    // from the metadata log a moment later. Return only when the broker lists them all, so a
    // client that uses them right away is not refused.
    await aclsVisible(admin, acls);
  } finally {
    await admin.disconnect();
  }
  await Promise.all(topics.map((t) => topicEndOffsets(kafka, t.topic)));
  return { created, configured: topics.map((t) => t.topic), acls: acls.length };
}

const aclKey = (a: AclEntry): string =>
  [a.resourceType, a.resourceName, a.resourcePatternType, a.principal, a.host, a.operation, a.permissionType].join('|');

async function aclsVisible(admin: kafkajs.Admin, acls: AclEntry[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { resources } = await admin.describeAcls({
      resourceType: AclResourceTypes.ANY,
      resourcePatternType: ResourcePatternTypes.ANY,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    });
    const have = new Set(
      resources.flatMap((r) =>
        r.acls.map((a) =>
          aclKey({
            resourceType: r.resourceType,
            resourceName: r.resourceName,
            resourcePatternType: r.resourcePatternType,
            principal: a.principal,
            host: a.host,
            operation: a.operation,
            permissionType: a.permissionType,
          }),
        ),
      ),
    );
    const missing = acls.filter((a) => !have.has(aclKey(a)));
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`${missing.length} ACL binding(s) created but not visible at the broker after ${timeoutMs} ms`);
    }
    await sleep(100);
  }
}

/**
 * A service's start-up check: every topic it uses exists and has partition leaders. Services do
 * not create topics (they are not allowed to): a missing topic means the admin step
 * (`pnpm -s kafka:topics`) has not run for this installation.
 */
export async function requireTopics(kafka: Kafka, topics: string[], opts: { timeoutMs?: number } = {}): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Topics and ACLs just written by the admin step reach the authorizer through the metadata
    // log a moment later: look again for a bounded time before calling them missing.
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    let missing: string[];
    for (;;) {
      const existing = new Set(await admin.listTopics());
      missing = topics.filter((t) => !existing.has(t));
      if (missing.length === 0 || Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (missing.length > 0) {
      throw new Error(
        `Kafka topics missing or not readable by this service's principal: ${missing.join(', ')}. ` +
          'Topics and ACLs are created by the admin step (pnpm -s kafka:topics with the kafka-admin certificate) before services start.',
      );
    }
  } finally {
    await admin.disconnect();
  }
  await Promise.all(topics.map((topic) => topicEndOffsets(kafka, topic, opts)));
}
