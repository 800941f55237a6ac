// Audit completeness over time: every topic keeps its messages as long as the stated guarantee
// says (not the broker's default), the age of what a consumer has not read yet is measurable
// from the broker, and dead letters can be replayed to their topic once, by the admin, logged.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { buildEvent, commandsTopic, dlqTopic, eventsTopic, newId, type DeadLetter } from '@flow8/contracts';
import { createLagMonitor, createKafka, createPublisher, type Kafka } from '../src/index';
import { createLogger } from '@flow8/telemetry';
import {
  adminKafka,
  certPair,
  provisionTopics,
  readTopic,
  repoRoot,
  stackEnv,
  uniqueTopicPrefix,
} from '../../testkit/src/index';

const { ConfigResourceTypes } = kafkajs;
const DAY_MS = 24 * 3600_000;

function as(certName: string): Kafka {
  const { ca, cert, key } = certPair(certName);
  return createKafka({ brokers: stackEnv().kafkaBrokers, clientId: `retention-${certName}`, tls: { ca, cert, key } });
}

function tenantCreated() {
  const tenantId = newId('ten');
  return buildEvent({
    type: 'identity.tenant.created',
    tenantId,
    actor: { type: 'operator', id: 'operator', ip: null },
    resource: { type: 'tenant', id: tenantId },
    payload: { tenantId, name: 'Acme', slug: 'acme' },
  });
}

async function retentionOf(topics: string[]): Promise<Record<string, Record<string, string>>> {
  const admin = adminKafka('retention-check').admin();
  await admin.connect();
  try {
    const r = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({
        type: ConfigResourceTypes.TOPIC,
        name,
        configNames: ['retention.ms', 'retention.bytes'],
      })),
    });
    return Object.fromEntries(
      r.resources.map((res) => [
        res.resourceName,
        Object.fromEntries(res.configEntries.map((c) => [c.configName, c.configValue])),
      ]),
    );
  } finally {
    await admin.disconnect();
  }
}

describe('retention', () => {
  test('events topics keep 30 days (identity forever), dead letters are never deleted by age', async () => {
    const prefix = uniqueTopicPrefix();
    await provisionTopics(prefix);
    const [identity, vault, audit] = (['identity', 'vault', 'audit'] as const).map((d) => eventsTopic(d, prefix));
    const cfg = await retentionOf([identity!, vault!, audit!, ...[identity!, vault!, audit!].map(dlqTopic)]);
    expect(cfg[vault!]).toEqual({ 'retention.ms': String(30 * DAY_MS), 'retention.bytes': '-1' });
    expect(cfg[audit!]).toEqual({ 'retention.ms': String(30 * DAY_MS), 'retention.bytes': '-1' });
    expect(cfg[identity!]).toEqual({ 'retention.ms': '-1', 'retention.bytes': '-1' });
    for (const t of [identity!, vault!, audit!]) {
      expect(cfg[dlqTopic(t)]).toEqual({ 'retention.ms': '-1', 'retention.bytes': '-1' });
    }
    // The flow engine's work topic: a week (Postgres holds the truth; a lost command is re-issued).
    const commands = commandsTopic('flow', prefix);
    const work = await retentionOf([commands, dlqTopic(commands)]);
    expect(work[commands]).toEqual({ 'retention.ms': String(7 * DAY_MS), 'retention.bytes': '-1' });
    expect(work[dlqTopic(commands)]).toEqual({ 'retention.ms': '-1', 'retention.bytes': '-1' });
  });

  test('the admin step fixes the retention of a topic that already exists with the broker default', async () => {
    const prefix = uniqueTopicPrefix();
    const vault = eventsTopic('vault', prefix);
    const admin = adminKafka('retention-old').admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: vault, numPartitions: 3 }] });
    await admin.disconnect();
    expect((await retentionOf([vault]))[vault]!['retention.ms']).not.toBe(String(30 * DAY_MS));
    await provisionTopics(prefix);
    expect((await retentionOf([vault]))[vault]!['retention.ms']).toBe(String(30 * DAY_MS));
  });
});

describe('lag age', () => {
  test('is the age of the oldest unconsumed event, measured from the broker, and 0 once consumed', async () => {
    const prefix = uniqueTopicPrefix();
    await provisionTopics(prefix);
    const identity = eventsTopic('identity', prefix);
    const group = `${prefix}credential-vault.grants`;
    // An event written two hours ago that the vault's grant replica has not consumed.
    const producer = as('auth').producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const e = tenantCreated();
    const writtenAt = Date.now() - 2 * 3600_000;
    await producer.send({
      topic: identity,
      acks: -1,
      messages: [{ key: e.tenantId, value: JSON.stringify(e), timestamp: String(writtenAt) }],
    });
    await producer.disconnect();

    const monitor = createLagMonitor({
      kafka: as('credential-vault'),
      groupId: group,
      fromBeginning: true,
      logger: createLogger({ service: 'lag-age-test', level: 'error' }),
      cacheMs: 0,
    });
    try {
      monitor.assign({ [identity]: [0, 1, 2] });
      const [age] = await monitor.ages();
      expect(age?.topic).toBe(identity);
      expect(Math.abs(age!.ageSeconds - 7200) / 7200).toBeLessThan(0.02);
      expect((await monitor.samples()).reduce((n, s) => n + s.lag, 0)).toBe(1);

      // The group consumes it (offsets moved past it by the admin): nothing waits any more.
      const admin = adminKafka('lag-age').admin();
      await admin.connect();
      const ends = await admin.fetchTopicOffsets(identity);
      await admin.setOffsets({
        groupId: group,
        topic: identity,
        partitions: ends.map((o) => ({ partition: o.partition, offset: o.high })),
      });
      await admin.disconnect();
      expect((await monitor.ages())[0]?.ageSeconds).toBe(0);
    } finally {
      await monitor.close();
    }
  });
});

describe('dead-letter replay', () => {
  function letter(source: string, value: Buffer | string, reason: DeadLetter['reason'] = 'PROCESSING_FAILED'): Buffer {
    const d: DeadLetter = {
      source: { topic: source, partition: 0, offset: '7' },
      reason,
      errors: ['ledger unavailable'],
      consumerGroup: 'audit-ingest',
      failedAt: new Date().toISOString(),
      key: 'ten_x',
      valueBase64: Buffer.from(value).toString('base64'),
      headers: { 'content-type': 'application/json' },
    };
    return Buffer.from(JSON.stringify(d));
  }

  function replayCli(prefix: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const env = stackEnv();
    const admin = certPair('kafka-admin');
    return new Promise((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(repoRoot(), 'packages/bus/src/cli/dlq-replay.ts'), ...args],
        {
          cwd: repoRoot(),
          env: {
            PATH: process.env.PATH,
            KAFKA_BROKERS: env.kafkaBrokers.join(','),
            FLOW8_CA_FILE: env.caFile,
            KAFKA_ADMIN_CERT_FILE: admin.certFile,
            KAFKA_ADMIN_KEY_FILE: admin.keyFile,
            KAFKA_TOPIC_PREFIX: prefix,
          },
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr: withoutKafkajsTimerWarning(stderr) }));
    });
  }

  /** kafkajs 2.2.4 arms one negative timer per process, which Node.js 24 reports on stderr
   * (docs/infrastructure.md); anything else the CLI writes to stderr still fails the test. */
  function withoutKafkajsTimerWarning(stderr: string): string {
    return stderr
      .replace(/^\(node:\d+\) TimeoutNegativeWarning: .*\n(?:Timeout duration was set to 1\.\n)?/m, '')
      .replace(/^\(Use `node --trace-warnings \.\.\.` to show where the warning was created\)\n/m, '');
  }

  test('re-publishes a dead-lettered event to its own topic once, logged, and refuses what does not belong there', async () => {
    const prefix = uniqueTopicPrefix();
    await provisionTopics(prefix);
    const identity = eventsTopic('identity', prefix);
    const vault = eventsTopic('vault', prefix);
    const good = tenantCreated();
    const credentialId = newId('crd');
    const smuggled = buildEvent({
      type: 'vault.credential.revoked',
      tenantId: good.tenantId,
      actor: { type: 'operator', id: 'operator', ip: null },
      resource: { type: 'credential', id: credentialId },
      payload: { credentialId, integration: 'salesforce', version: 1 },
    });
    // audit-ingest dead-letters what it consumes from identity (its ACL allows writing identity's .dlq).
    const dlq = createPublisher(as('audit-ingest'));
    await dlq.publish(
      [
        letter(identity, JSON.stringify(good)),
        letter(vault, JSON.stringify(good)), // claims to come from another topic
        letter(identity, JSON.stringify(smuggled)), // a vault event in identity's dead letters
        letter(identity, '{"broken', 'MALFORMED_JSON'),
      ].map((value) => ({ topic: dlqTopic(identity), key: good.tenantId, value, headers: {} })),
    );
    await dlq.disconnect();

    const dry = await replayCli(prefix, ['--actor', 'sre-alice', '--dry-run']);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('kafka:dlq-replay: 1 would be replayed, 3 skipped');
    expect(await readTopic(adminKafka('replay-check'), identity)).toHaveLength(0);

    const first = await replayCli(prefix, ['--actor', 'sre-alice']);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('kafka:dlq-replay: 1 replayed, 3 skipped');
    const lines = first.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.action === 'replayed')).toMatchObject({
      actor: 'sre-alice',
      eventId: good.id,
      type: 'identity.tenant.created',
      to: identity,
    });
    expect(lines.filter((l) => l.action === 'skipped').map((l) => l.reason)).toEqual([
      `source topic is not ${identity}`,
      `event type does not belong to ${identity}`,
      expect.stringMatching(/^MALFORMED_JSON/),
    ]);
    expect(first.stdout).not.toContain('Acme'); // decisions name events, never their payload

    const onTopic = await readTopic(adminKafka('replay-check'), identity);
    expect(onTopic).toHaveLength(1);
    expect(onTopic[0]!.value!.toString()).toBe(JSON.stringify(good));
    expect(onTopic[0]!.headers['flow8-replayed-by']).toBe('sre-alice');
    expect(onTopic[0]!.headers['flow8-replayed-from']).toMatch(
      new RegExp(`^${dlqTopic(identity).replace(/\./g, '\\.')}/`),
    );
    expect(await readTopic(adminKafka('replay-check'), vault)).toHaveLength(0);

    // Once: a second run finds nothing new.
    const again = await replayCli(prefix, ['--actor', 'sre-alice']);
    expect(again.stdout).toContain('kafka:dlq-replay: 0 replayed, 0 skipped');
    expect(await readTopic(adminKafka('replay-check'), identity)).toHaveLength(1);
  });

  test('a service certificate cannot replay: dead letters are read by the admin only', async () => {
    const prefix = uniqueTopicPrefix();
    await provisionTopics(prefix);
    const identity = eventsTopic('identity', prefix);
    const reader = as('auth').consumer({ groupId: `${prefix}flow8.dlq-replay` });
    await reader.connect();
    const refused = await new Promise<string>((resolve) => {
      reader.on(reader.events.GROUP_JOIN, () => resolve('joined'));
      reader.on(reader.events.CRASH, (e) => resolve((e.payload.error as Error).message));
      reader
        .subscribe({ topics: [dlqTopic(identity)], fromBeginning: true })
        .then(() => reader.run({ eachMessage: async () => undefined }))
        .catch((err: Error) => resolve(err.message));
    });
    await reader.disconnect();
    expect(refused).not.toBe('joined');
  });
});
