// audit-ingest is killed (SIGKILL: no shutdown, no LeaveGroup) and started again at once, as a
// crashed pod is replaced. Its consumer-group member is left behind in the broker; the new
// process must not wait long for it (before: the whole 30 s session timeout). Measured against
// a graceful restart of the same service, which leaves its group cleanly.
import { createPublisher } from '@flow8/bus';
import { buildEvent, eventsTopic, newId } from '@flow8/contracts';
import {
  eventually,
  freePort,
  freshDatabase,
  httpsRequest,
  measureRestarts,
  provisionTopics,
  spawnService,
  testKafka,
  uniqueTopicPrefix,
} from '@flow8/testkit';
import { AUDIT_MIGRATIONS, auditEnv } from './harness';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

test('killed, a new audit-ingest is ready and appending within seconds of a normal restart', async () => {
  const db = await freshDatabase('AUDIT', AUDIT_MIGRATIONS);
  const prefix = uniqueTopicPrefix();
  await provisionTopics(prefix); // topics and ACLs, as the admin step does; the group is the ACL'd one
  const port = await freePort();
  const procEnv = auditEnv(db, prefix, {
    PORT: String(port),
    AUDIT_ALLOWED_CALLERS: 'testkit',
    LOG_LEVEL: 'error',
    METRICS_PORT: '0',
  });
  const publisher = createPublisher(testKafka('crash-recovery', 'auth'));
  const tenant = newId('ten');
  try {
    const t = await measureRestarts({
      spawn: () => spawnService('services/audit-ingest/src/main.ts', procEnv),
      ready: async () => (await httpsRequest(`https://localhost:${port}/readyz`, { as: 'testkit' })).status === 200,
      // One event through the ledger consumer: it owns its partitions.
      work: async () => {
        const userId = newId('usr');
        const e = buildEvent({
          type: 'identity.user.created',
          tenantId: tenant,
          actor: { type: 'user', id: 'usr_admin', ip: null },
          resource: { type: 'user', id: userId },
          payload: { userId, role: 'viewer' },
        });
        await publisher.publish([
          { topic: eventsTopic('identity', prefix), key: tenant, value: Buffer.from(JSON.stringify(e)), headers: {} },
        ]);
        await eventually(
          async () => (await db.admin.query('SELECT 1 FROM ledger_entries WHERE event_id = $1', [e.id])).rowCount === 1,
          { what: 'the event in the ledger', timeoutMs: 60_000, intervalMs: 100 },
        );
      },
    });
    console.log(
      `audit-ingest: killed → ready ${seconds(t.crashRestartMs)}, next event in the ledger ` +
        `${seconds(t.crashWorkingMs)}; graceful restart → ready ${seconds(t.gracefulRestartMs)}; ` +
        `clean start ${seconds(t.cleanStartMs)}`,
    );
    // What the crash adds to a normal start is the rebalance timeout (3 s) at most, plus noise.
    expect(t.crashRestartMs - t.gracefulRestartMs).toBeLessThanOrEqual(5_000);
  } finally {
    await publisher.disconnect();
    await db.drop();
  }
});
