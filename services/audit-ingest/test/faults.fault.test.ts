// Faults on the real stack: the broker goes away while state changes are committed, and the
// audit-ingest process is killed in the middle of its work. Nothing may be lost, nothing
// duplicated, and every chain must still verify.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createKafka, createOutbox, createOutboxRelay, createPublisher, OUTBOX_MIGRATIONS_DIR } from '@flow8/bus';
import { buildEvent, eventsTopic, newId } from '@flow8/contracts';
import { toBase64 } from '@flow8/crypto';
import { withTransaction, type Pool } from '@flow8/db';
import { createLogger } from '@flow8/telemetry';
import {
  certPair,
  eventually,
  freshDatabase,
  httpsRequest,
  repoRoot,
  restartStack,
  stackEnv,
  stopKafka,
  testIdentityKey,
  testKafka,
  provisionTopics,
  uniqueTopicPrefix,
} from '@flow8/testkit';
import { AUDIT_MIGRATIONS, startAudit } from './harness';

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
      await new Promise((r) => setTimeout(r, 2000));
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
  let child: ChildProcess | null = null;

  function startProcess(env: Record<string, string>): ChildProcess {
    // node itself with tsx's loader (not the tsx wrapper, which would leave its child running
    // when killed): SIGKILL must hit the process that does the work.
    const p = spawn(process.execPath, ['--import', 'tsx', join(repoRoot(), 'services/audit-ingest/src/main.ts')], {
      cwd: repoRoot(),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    p.stderr?.on('data', () => undefined);
    return p;
  }

  async function kill(p: ChildProcess | null): Promise<void> {
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  afterEach(async () => {
    await kill(child);
  });

  test('restarted, it continues without loss or duplicate and every chain verifies', async () => {
    const db = await freshDatabase('AUDIT', AUDIT_MIGRATIONS);
    const prefix = uniqueTopicPrefix();
    await provisionTopics(prefix);
    const env = stackEnv();
    const tls = certPair('audit-ingest');
    const port = 20000 + Math.floor(Math.random() * 20000);
    const identity = testIdentityKey();
    const procEnv = {
      PORT: String(port),
      KAFKA_BROKERS: env.kafkaBrokers.join(','),
      FLOW8_CA_FILE: env.caFile,
      TLS_CERT_FILE: tls.certFile,
      TLS_KEY_FILE: tls.keyFile,
      AUDIT_DATABASE_URL: db.appUrl,
      AUDIT_RELAY_DATABASE_URL: db.relayUrl,
      AUDIT_SIGNING_KEY: toBase64(randomBytes(32)),
      KAFKA_TOPIC_PREFIX: prefix,
      AUDIT_ALLOWED_CALLERS: 'testkit',
      INTERNAL_IDENTITY_PUBLIC_KEYS: identity.publicKeyBase64,
      LOG_LEVEL: 'error',
      // The default metrics port may belong to an audit-ingest that scripts/start.sh left running.
      METRICS_PORT: '0',
    };
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
      // Dead means dead: nothing more arrives until the restart.
      const afterKill = await ledgerCount(db.admin);
      await new Promise((r) => setTimeout(r, 1000));
      expect(await ledgerCount(db.admin)).toEqual(afterKill);

      child = startProcess(procEnv);
      await eventually(async () => (await ledgerCount(db.admin)).rows >= N, { what: `${N} rows`, timeoutMs: 180_000 });
      await new Promise((r) => setTimeout(r, 2000));
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
