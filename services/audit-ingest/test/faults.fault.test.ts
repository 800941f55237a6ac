// Faults on the real stack: the broker goes away while state changes are committed, and the
// audit-ingest process is killed in the middle of its work. Nothing may be lost, nothing
// duplicated, and every chain must still verify.
import { createKafka, createOutbox, createOutboxRelay, createPublisher, OUTBOX_MIGRATIONS_DIR } from '@flow8/bus';
import { buildEvent, eventsTopic, newId } from '@flow8/contracts';
import { userOf, withTransaction, type Pool } from '@flow8/db';
import { createLogger } from '@flow8/telemetry';
import {
  certPair,
  eventually,
  freePort,
  freshDatabase,
  httpsRequest,
  provisionTopics,
  restartStack,
  spawnService,
  stackEnv,
  stopKafka,
  testIdentityKey,
  testKafka,
  uniqueTopicPrefix,
  waitForQuiescence,
  type ServiceProcess,
} from '@flow8/testkit';
import { AUDIT_MIGRATIONS, auditEnv, startAudit } from './harness';

const logger = createLogger({ service: 'fault-test', level: 'error' });

function userCreated(tenantId: string) {
  const userId = newId('usr');
  return buildEvent({
    type: 'identity.user.created',
    tenantId,
    actor: { type: 'user', id: 'usr_admin', ip: null },
    resource: { type: 'user', id: userId },
    payload: { userId, role: 'executor' },
  });
}

async function ledgerCount(pool: Pool): Promise<{ rows: number; distinct: number }> {
  const r = await pool.query<{ rows: string; distinct: string }>(
    'SELECT count(*) AS rows, count(DISTINCT event_id) AS distinct FROM ledger_entries',
  );
  return { rows: Number(r.rows[0]!.rows), distinct: Number(r.rows[0]!.distinct) };
}

describe('Kafka unavailable while state changes commit', () => {
  test('events wait in the outbox and arrive exactly once, in order, when the broker returns', async () => {
    const audit = await startAudit();
    const producerDb = await freshDatabase('AUTH', [{ component: 'bus', dir: OUTBOX_MIGRATIONS_DIR }]);
    const tls = certPair('auth');
    const kafka = createKafka({ brokers: stackEnv().kafkaBrokers, clientId: 'fault-producer', tls, retries: 1 });
    const relay = createOutboxRelay({
      pool: producerDb.relay,
      publisher: createPublisher(kafka),
      logger,
      pollIntervalMs: 100,
      maxBackoffMs: 1000,
    });
    relay.start();
    const outbox = createOutbox({ topicPrefix: audit.prefix });
    const tenant = newId('ten');
    try {
      // Warm up: the pipeline works before the fault.
      const first = userCreated(tenant);
      await withTransaction(producerDb.app, (tx) => outbox.add(tx, first));
      await eventually(async () => (await ledgerCount(audit.db.admin)).rows === 1, { what: 'first event' });

      await stopKafka();
      const during = Array.from({ length: 30 }, () => userCreated(tenant));
      for (const e of during) await withTransaction(producerDb.app, (tx) => outbox.add(tx, e));
      // The relay keeps failing and the events stay in the outbox.
      await eventually(async () => relay.stats().failures > 0, { what: 'relay failures while Kafka is down' });
      const unsent = await producerDb.relay.query<{ n: string }>(
        'SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL',
      );
      expect(Number(unsent.rows[0]!.n)).toBe(30);

      await restartStack();
      await eventually(async () => (await ledgerCount(audit.db.admin)).rows >= 31, {
        what: '31 ledger rows',
        timeoutMs: 120_000,
      });
      // Outbox empty and the ledger's group caught up: a duplicate would be in the ledger now.
      await waitForQuiescence({ pools: [producerDb.admin], groups: [audit.ledgerGroup] });
      expect(await ledgerCount(audit.db.admin)).toEqual({ rows: 31, distinct: 31 });
      const order = await audit.db.admin.query<{ event_id: string }>(
        'SELECT event_id FROM ledger_entries ORDER BY seq',
      );
      expect(order.rows.map((r) => r.event_id)).toEqual([first, ...during].map((e) => e.id));
      const v = await httpsRequest(`${audit.url}/v1/audit/verify`, {
        as: 'testkit',
        headers: audit.as(tenant, { role: 'viewer', id: 'usr_sre' }),
      });
      expect(v.json()).toMatchObject({ ok: true, checked: 31 });
    } finally {
      await relay.stop();
      await audit.stop();
      await producerDb.drop();
      await audit.db.drop();
    }
  });
});

describe('audit-ingest killed mid-batch', () => {
  let child: ServiceProcess | null = null;
  const startProcess = (env: Record<string, string>) => spawnService('services/audit-ingest/src/main.ts', env);
  const kill = async (p: ServiceProcess | null) => p?.kill();

  afterEach(async () => {
    await kill(child);
  });

  test('restarted, it continues without loss or duplicate and every chain verifies', async () => {
    const db = await freshDatabase('AUDIT', AUDIT_MIGRATIONS);
    const prefix = uniqueTopicPrefix();
    await provisionTopics(prefix);
    const port = await freePort();
    const identity = testIdentityKey();
    const procEnv = auditEnv(
      db,
      prefix,
      {
        PORT: String(port),
        AUDIT_ALLOWED_CALLERS: 'testkit',
        LOG_LEVEL: 'error',
        // The default metrics port may belong to an audit-ingest that scripts/start.sh left running.
        METRICS_PORT: '0',
      },
      identity.publicKeyBase64,
    );
    const tenants = Array.from({ length: 6 }, () => newId('ten'));
    const N = 12_000;
    try {
      // Topics come from the service; start it once briefly so they exist, then load them.
      child = startProcess(procEnv);
      await eventually(
        async () => (await httpsRequest(`https://localhost:${port}/healthz`, { as: 'testkit' })).status === 200,
        { what: 'audit-ingest up', timeoutMs: 60_000 },
      );
      await kill(child);
      const publisher = createPublisher(testKafka('fault-load', 'auth'));
      const events = Array.from({ length: N }, (_, i) => userCreated(tenants[i % tenants.length]!));
      for (let i = 0; i < N; i += 1000) {
        await publisher.publish(
          events.slice(i, i + 1000).map((e) => ({
            topic: eventsTopic('identity', prefix),
            key: e.tenantId,
            value: Buffer.from(JSON.stringify(e)),
            headers: {},
          })),
        );
      }
      await publisher.disconnect();

      child = startProcess(procEnv);
      const partial = await eventually(
        async () => {
          const c = await ledgerCount(db.admin);
          return c.rows > 0 ? c : undefined;
        },
        { what: 'some rows before the kill', intervalMs: 20, timeoutMs: 60_000 },
      );
      await kill(child);
      expect(partial.rows).toBeLessThan(N);
      // Dead means dead: nothing more arrives until the restart — counted again once the server
      // has closed every session of the killed process (after that nothing of it can commit).
      const afterKill = await ledgerCount(db.admin);
      await eventually(
        async () => {
          const r = await db.admin.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND usename = ANY($2)',
            [db.name, [userOf(db.appUrl), userOf(db.relayUrl)]],
          );
          return r.rows[0]!.n === 0;
        },
        { what: "the killed process's database sessions to end" },
      );
      expect(await ledgerCount(db.admin)).toEqual(afterKill);

      child = startProcess(procEnv);
      await eventually(async () => (await ledgerCount(db.admin)).rows >= N, { what: `${N} rows`, timeoutMs: 180_000 });
      // The group has consumed every message: a duplicate would be in the ledger now.
      await waitForQuiescence({
        groups: [{ groupId: `${prefix}audit-ingest`, topics: await provisionTopics(prefix) }],
        timeoutMs: 120_000,
      });
      expect(await ledgerCount(db.admin)).toEqual({ rows: N, distinct: N });
      for (const t of tenants) {
        const v = await httpsRequest(`https://localhost:${port}/v1/audit/verify`, {
          as: 'testkit',
          headers: identity.header({ tenantId: t, id: 'usr_sre', role: 'viewer' }, 'audit-ingest'),
        });
        expect(v.json()).toMatchObject({ ok: true, checked: N / tenants.length, firstBadSeq: null });
      }
    } finally {
      await kill(child);
      child = null;
      await db.drop();
    }
  });
});
