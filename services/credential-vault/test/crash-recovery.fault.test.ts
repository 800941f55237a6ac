// The credential vault is killed (SIGKILL: no shutdown, no LeaveGroup) and started again at once,
// as a crashed pod is replaced. Its grant replica's consumer-group member is left behind in the
// broker; the new process must not wait long for it (before: the whole 30 s session timeout).
// Measured against a graceful restart of the same service, which leaves its group cleanly.
import { randomBytes } from 'node:crypto';
import { createPublisher } from '@flow8/bus';
import { buildEvent, eventsTopic, newId } from '@flow8/contracts';
import { ed25519RawPublicKey } from '@flow8/http';
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
import { VAULT_MIGRATIONS, vaultEnv } from './harness';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

test('killed, a new credential vault is ready and its grant replica reading within seconds of a normal restart', async () => {
  const db = await freshDatabase('VAULT', VAULT_MIGRATIONS);
  const prefix = uniqueTopicPrefix();
  await provisionTopics(prefix); // topics and ACLs, as the admin step does
  const port = await freePort();
  const identityKey = Buffer.from(ed25519RawPublicKey(randomBytes(32))).toString('base64');
  const procEnv = vaultEnv(db, prefix, identityKey, { PORT: String(port), METRICS_PORT: '0', LOG_LEVEL: 'error' });
  const topic = eventsTopic('identity', prefix);
  const publisher = createPublisher(testKafka('crash-recovery', 'auth'));
  const tenant = newId('ten');
  /** Messages of the identity topic the replica has read (its stored next offsets). */
  const read = async (): Promise<number> => {
    const r = await db.admin.query<{ n: string | null }>(
      'SELECT sum(next_offset) AS n FROM grant_replica_progress WHERE topic = $1',
      [topic],
    );
    return Number(r.rows[0]?.n ?? 0);
  };
  try {
    const t = await measureRestarts({
      spawn: () => spawnService('services/credential-vault/src/main.ts', procEnv),
      ready: async () => (await httpsRequest(`https://localhost:${port}/readyz`, { as: 'testkit' })).status === 200,
      // One identity event through the grant replica: it owns its partitions.
      work: async () => {
        const before = await read();
        const userId = newId('usr');
        const e = buildEvent({
          type: 'identity.user.created',
          tenantId: tenant,
          actor: { type: 'user', id: 'usr_admin', ip: null },
          resource: { type: 'user', id: userId },
          payload: { userId, role: 'viewer' },
        });
        await publisher.publish([{ topic, key: tenant, value: Buffer.from(JSON.stringify(e)), headers: {} }]);
        await eventually(async () => (await read()) === before + 1, {
          what: 'the replica reading the event',
          timeoutMs: 60_000,
          intervalMs: 100,
        });
      },
    });
    console.log(
      `credential-vault: killed → ready ${seconds(t.crashRestartMs)}, next identity event read ` +
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
