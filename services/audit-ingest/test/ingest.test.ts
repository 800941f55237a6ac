// End to end through the real stack: events committed to a producer's outbox cross Kafka over
// TLS and land in the ledger exactly once, in order per tenant, with a chain that verifies.
import { createKafka, createOutbox, createOutboxRelay, createPublisher, OUTBOX_MIGRATIONS_DIR } from '@flow8/bus';
import { buildEvent, newId } from '@flow8/contracts';
import { withTransaction } from '@flow8/db';
import { createLogger } from '@flow8/telemetry';
import {
  certPair,
  eventually,
  freshDatabase,
  httpsRequest,
  stackEnv,
  waitForQuiescence,
  type TestDatabase,
} from '@flow8/testkit';
import { startAudit } from './harness';

const logger = createLogger({ service: 'test', level: 'warn' });

function userCreated(tenantId: string) {
  const userId = newId('usr');
  return buildEvent({
    type: 'identity.user.created',
    tenantId,
    actor: { type: 'user', id: 'usr_admin', ip: '203.0.113.9' },
    resource: { type: 'user', id: userId },
    payload: { userId, role: 'viewer' },
  });
}

describe('audit ingest end to end', () => {
  let audit: Awaited<ReturnType<typeof startAudit>>;
  let producerDb: TestDatabase;
  let relay: ReturnType<typeof createOutboxRelay>;

  beforeAll(async () => {
    audit = await startAudit();
    producerDb = await freshDatabase('AUTH', [{ component: 'bus', dir: OUTBOX_MIGRATIONS_DIR }]);
    const env = stackEnv();
    const tls = certPair('auth');
    const kafka = createKafka({
      brokers: env.kafkaBrokers,
      clientId: 'test-producer',
      tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
    });
    relay = createOutboxRelay({
      pool: producerDb.relay,
      publisher: createPublisher(kafka),
      logger,
      pollIntervalMs: 100,
    });
    relay.start();
  });

  afterAll(async () => {
    await relay?.stop();
    await audit?.stop();
    await producerDb?.drop();
    await audit?.db.drop();
  });

  test("two tenants' events are appended once each, in order, and each chain verifies", async () => {
    const outbox = createOutbox({ topicPrefix: audit.prefix });
    const [a, b] = [newId('ten'), newId('ten')];
    const events = Array.from({ length: 40 }, (_, i) => userCreated(i % 2 === 0 ? a : b));
    for (const e of events) {
      await withTransaction(producerDb.app, (tx) => outbox.add(tx, e));
    }
    // A relay crash after publishing but before marking sent re-publishes: simulate it.
    await producerDb.app
      .query('UPDATE outbox SET sent_at = NULL WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT 10)')
      .catch(async () =>
        producerDb.admin.query(
          'UPDATE outbox SET sent_at = NULL WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT 10)',
        ),
      );

    const rows = await eventually(
      async () => {
        const r = await audit.db.admin.query<{ tenant_id: string; seq: string; event_id: string }>(
          'SELECT tenant_id, seq, event_id FROM ledger_entries ORDER BY tenant_id, seq',
        );
        return r.rows.length >= 40 ? r.rows : undefined;
      },
      { what: '40 ledger entries', timeoutMs: 60_000 },
    );
    // Every row re-published and every message handled: a duplicate would be in the ledger now.
    await waitForQuiescence({ pools: [producerDb.admin], groups: [audit.ledgerGroup] });
    const all = await audit.db.admin.query<{ n: string }>('SELECT count(*) AS n FROM ledger_entries');
    expect(Number(all.rows[0]!.n)).toBe(40);
    for (const t of [a, b]) {
      const mine = rows.filter((r) => r.tenant_id === t);
      expect(mine.map((r) => Number(r.seq))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      // In the order the producer committed them.
      expect(mine.map((r) => r.event_id)).toEqual(events.filter((e) => e.tenantId === t).map((e) => e.id));
    }

    const headers = audit.as(a, { role: 'viewer', id: 'usr_auditor' });
    const res = await httpsRequest(`${audit.url}/v1/audit/verify`, { as: 'testkit', headers });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ ok: true, checked: 20, firstBadSeq: null, head: { seq: 20 } });
  });
});
