// Scheduled checkpoint signing is leader-only: two audit-ingest replicas on one database do not
// both sign every round — the one holding the job's advisory lock signs, the other skips, and it
// takes over when the leader stops.
import { randomBytes } from 'node:crypto';
import { buildEvent, newId, type AnyEvent } from '@flow8/contracts';
import { publicKeyId, ready, signingKeyPairFromSeed, type SigningKeyPair } from '@flow8/crypto';
import { createPool, withTransaction, type Pool } from '@flow8/db';
import { createLogger } from '@flow8/telemetry';
import { freshDatabase, stackEnv, type TestDatabase } from '@flow8/testkit';
import { createCheckpointService, type CheckpointService } from '../src/features/checkpoints/checkpoint.service';
import { appendEvents } from '../src/features/ledger/ledger.repo';
import { createAuditMetrics } from '../src/metrics';
import { AUDIT_MIGRATIONS } from './harness';

function userCreated(tenantId: string): AnyEvent {
  const userId = newId('usr');
  return buildEvent({
    type: 'identity.user.created',
    tenantId,
    actor: { type: 'user', id: 'usr_admin', ip: null },
    resource: { type: 'user', id: userId },
    payload: { userId, role: 'viewer' },
  });
}

let db: TestDatabase;
const pools: Pool[] = [];
const replicas: CheckpointService[] = [];
const tenant = newId('ten');

beforeAll(async () => {
  await ready();
  db = await freshDatabase('AUDIT', AUDIT_MIGRATIONS);
});
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.job.stop()));
  await Promise.all(pools.map((p) => p.end()));
  await db?.drop();
});

const append = (n: number) =>
  withTransaction(db.app, (c) =>
    appendEvents(
      c,
      new Map([[tenant, Array.from({ length: n }, () => userCreated(tenant))]]),
      new Date().toISOString(),
    ),
  );

/**
 * One replica as a process would have it: its own pool on the runtime role. Each signs with a key
 * of its own (both trusted), so a replica that signs a head another already signed is visible as a
 * second checkpoint instead of being hidden by "my key already covers this head".
 */
function replica(keyPair: SigningKeyPair, trusted: Uint8Array[]): CheckpointService {
  const pool = createPool({ url: db.appUrl, caFile: stackEnv().caFile, max: 3 });
  pools.push(pool);
  const r = createCheckpointService({
    pool,
    keyPair,
    logger: createLogger({ service: 'audit-ingest', level: 'silent' }),
    metrics: createAuditMetrics(),
    trustedPublicKeys: trusted,
    intervalMs: 3_600_000,
  });
  replicas.push(r);
  return r;
}

async function signers(): Promise<Array<{ seq: number; key: string }>> {
  const { rows } = await db.admin.query<{ seq: string; key_id: string }>(
    'SELECT seq, key_id FROM ledger_checkpoints WHERE tenant_id = $1 ORDER BY seq, id',
    [tenant],
  );
  return rows.map((r) => ({ seq: Number(r.seq), key: r.key_id }));
}

test('two checkpoint signers on one database: one signs each round, the other takes over when it stops', async () => {
  const ka = signingKeyPairFromSeed(randomBytes(32));
  const kb = signingKeyPairFromSeed(randomBytes(32));
  const trusted = [ka.publicKey, kb.publicKey];
  const a = replica(ka, trusted);
  const b = replica(kb, trusted);
  await a.registerKey();
  await b.registerKey();
  const [idA, idB] = [publicKeyId(ka.publicKey), publicKeyId(kb.publicKey)];

  await append(3);
  // Both replicas run a scheduled round; whichever came first holds the lock.
  await a.job.runNow();
  await b.job.runNow();
  expect(a.job.isLeader()).toBe(true);
  expect(b.job.isLeader()).toBe(false);
  expect(await signers()).toEqual([{ seq: 3, key: idA }]);

  await append(2);
  await b.job.runNow();
  await a.job.runNow();
  expect(await signers()).toEqual([
    { seq: 3, key: idA },
    { seq: 5, key: idA },
  ]);

  // The leader goes away (its lock with it): the other replica signs the next round.
  await a.job.stop();
  await append(1);
  await b.job.runNow();
  expect(b.job.isLeader()).toBe(true);
  expect((await signers()).at(-1)).toEqual({ seq: 6, key: idB });
  expect((await signers()).length).toBe(3);
});
