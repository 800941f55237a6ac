// What an SRE sees on GET /metrics of a real audit-ingest against the real stack: events crossing
// Kafka into the ledger (append rate, consumed, dead-lettered, lag that grows while the ingest is
// stuck and drains after), the audit API's requests by route and status class, the last
// verification's result (turning to 0 when a tampered chain is verified), checkpoints, the
// outbox relay — and never a tenant id, user id, event id or address in the scrape.
import { request } from 'node:http';
import { createPublisher, type Publisher } from '@flow8/bus';
import { buildEvent, eventsTopic, newId, type AnyEvent } from '@flow8/contracts';
import { withTransaction } from '@flow8/db';
import { startServiceMetrics, type ServiceMetrics } from '@flow8/runtime';
import {
  eventually,
  freePort,
  freshDatabase,
  httpsRequest,
  provisionTopics,
  spawnService,
  testKafka,
  uniqueTopicPrefix,
  type ServiceProcess,
} from '@flow8/testkit';
import { AUDIT_MIGRATIONS, auditEnv, startAudit } from './harness';

function userCreated(tenantId: string): AnyEvent {
  const userId = newId('usr');
  return buildEvent({
    type: 'identity.user.created',
    tenantId,
    actor: { type: 'user', id: 'usr_admin', ip: '203.0.113.9' },
    resource: { type: 'user', id: userId },
    payload: { userId, role: 'viewer' },
  });
}

function scrape(url: string): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    })
      .on('error', reject)
      .end();
  });
}

/** Every sample of a metric whose labels include all of `match`, as [labels, value]. */
function samples(text: string, name: string, match: Record<string, string> = {}): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = m[2] ?? '';
    if (Object.entries(match).every(([k, v]) => labels.includes(`${k}="${v}"`))) out.push([labels, Number(m[3])]);
  }
  return out;
}
const sum = (text: string, name: string, match: Record<string, string> = {}) =>
  samples(text, name, match).reduce((n, [, v]) => n + v, 0);
const one = (text: string, name: string, match: Record<string, string> = {}) => {
  const found = samples(text, name, match);
  if (found.length !== 1) throw new Error(`expected one ${name} ${JSON.stringify(match)}, found ${found.length}`);
  return found[0]![1];
};

describe('audit-ingest metrics', () => {
  let audit: Awaited<ReturnType<typeof startAudit>>;
  let metrics: ServiceMetrics;
  let url: string;
  let publisher: Publisher;
  let topic: string;
  const kafka = testKafka('metrics-test-producer');
  const A = newId('ten');
  const B = newId('ten');
  const published: AnyEvent[] = [];
  const startedAt = Date.now() / 1000;

  const publish = async (events: AnyEvent[]) => {
    published.push(...events);
    await publisher.publish(
      events.map((e) => ({ topic, key: e.tenantId, value: Buffer.from(JSON.stringify(e)), headers: {} })),
    );
  };
  const ledgerCount = async (tenantId?: string) => {
    const r = await audit.db.admin.query<{ n: string }>(
      `SELECT count(*) AS n FROM ledger_entries${tenantId ? ' WHERE tenant_id = $1' : ''}`,
      tenantId ? [tenantId] : [],
    );
    return Number(r.rows[0]!.n);
  };
  const api = (path: string, tenantId: string, opts: { method?: string; role?: 'admin' | 'executor' } = {}) =>
    httpsRequest(`${audit.url}${path}`, {
      method: opts.method ?? 'GET',
      as: 'testkit',
      headers: audit.as(tenantId, { role: opts.role ?? 'admin' }),
    });
  const text = async () => (await scrape(url)).body;

  beforeAll(async () => {
    audit = await startAudit();
    metrics = await startServiceMetrics('audit-ingest', { ...audit.config, METRICS_PORT: await freePort() });
    url = metrics.server!.url;
    topic = eventsTopic('identity', audit.prefix);
    publisher = createPublisher(kafka);
  });

  afterAll(async () => {
    await publisher?.disconnect();
    await audit?.stop();
    await metrics?.stop();
    await audit?.db.drop();
  });

  test('the listener serves the Prometheus text format on METRICS_HOST:METRICS_PORT', async () => {
    expect(url).toBe(`http://127.0.0.1:${metrics.server!.port}/metrics`);
    const res = await scrape(url);
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.body).toMatch(/^target_info\{service_name="audit-ingest",/m);
    // The relay takes the leader lock on its own connection shortly after start.
    await eventually(async () => one(await text(), 'flow8_outbox_relay_leader') === 1, { what: 'relay leadership' });
  });

  test('events into the ledger: appended, consumed and dead-lettered counts match what happened', async () => {
    await publish([
      ...Array.from({ length: 6 }, () => userCreated(A)),
      ...Array.from({ length: 4 }, () => userCreated(B)),
    ]);
    await publisher.publish([{ topic, key: A, value: Buffer.from('{not json'), headers: {} }]);
    await eventually(async () => (await ledgerCount()) >= 10, { what: '10 ledger entries', timeoutMs: 60_000 });

    const group = `${audit.prefix}${audit.config.AUDIT_CONSUMER_GROUP}`;
    const t = await eventually(
      async () => {
        const s = await text();
        return sum(s, 'flow8_consumer_messages_total', { topic, consumer_group: group }) === 11 ? s : undefined;
      },
      { what: '11 messages consumed from the identity topic' },
    );
    expect(
      one(t, 'flow8_consumer_dead_letters_total', { topic, consumer_group: group, reason: 'MALFORMED_JSON' }),
    ).toBe(1);
    expect(sum(t, 'flow8_consumer_handler_failures_total')).toBe(0);
    expect(sum(t, 'flow8_consumer_batch_duration_seconds_count', { topic })).toBeGreaterThan(0);
    // The append counter is the ledger's own count (the service's own audit events included).
    await eventually(async () => one(await text(), 'flow8_audit_ledger_appended_total') === (await ledgerCount()), {
      what: 'appended_total to equal the ledger row count',
    });
    expect(one(t, 'flow8_audit_ledger_append_duration_seconds_count')).toBeGreaterThan(0);
    // Redelivering the same events appends nothing and is counted as duplicates.
    await publish(published.slice(0, 3));
    await eventually(async () => sum(await text(), 'flow8_audit_ledger_duplicates_total') === 3, {
      what: '3 duplicates skipped',
    });
    expect(await ledgerCount(A)).toBe(6);
  });

  test('consumer lag grows while the ingest is stuck and drains once it recovers', async () => {
    const group = `${audit.prefix}${audit.config.AUDIT_CONSUMER_GROUP}`;
    const lagOf = async () => {
      const s = await text();
      const series = samples(s, 'flow8_consumer_lag', { topic, consumer_group: group });
      return { series, total: series.reduce((n, [, v]) => n + v, 0) };
    };
    // Every partition of the topic is reported (this is the only member of the group), at 0.
    const idle = await eventually(
      async () => {
        const l = await lagOf();
        return l.series.length === 3 && l.total === 0 ? l : undefined;
      },
      { what: 'lag 0 on the 3 partitions' },
    );
    expect(idle.series.map(([labels]) => /partition="(\d)"/.exec(labels)?.[1]).sort()).toEqual(['0', '1', '2']);

    // Stall the ingest: its transaction waits on the offsets table a superuser holds locked.
    const blocker = await audit.db.admin.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE consumer_offsets IN ACCESS EXCLUSIVE MODE');
      await publish(Array.from({ length: 5 }, () => userCreated(B)));
      await eventually(async () => (await lagOf()).total === 5, { what: 'lag 5 while stuck' });
      expect(await ledgerCount(B)).toBe(4);
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      blocker.release();
    }
    await eventually(async () => (await lagOf()).total === 0, { what: 'lag back to 0', timeoutMs: 60_000 });
    expect(await ledgerCount(B)).toBe(9);
  });

  test('HTTP requests by route pattern and status class; the last verification turns 0 on a tampered chain', async () => {
    const before = await text();
    const count = (s: string, route: string, statusClass: string) =>
      sum(s, 'http_server_requests_total', { method: 'GET', route, status_class: statusClass });

    expect((await api('/v1/audit/verify', A)).json()).toMatchObject({ ok: true });
    const afterOk = await text();
    expect(one(afterOk, 'flow8_audit_verification_last_result')).toBe(1);
    expect(one(afterOk, 'flow8_audit_verifications_total', { result: 'ok' })).toBe(1);
    const at = one(afterOk, 'flow8_audit_verification_last_timestamp_seconds');
    expect(at).toBeGreaterThanOrEqual(startedAt);
    expect(at).toBeLessThanOrEqual(Date.now() / 1000);
    expect(samples(afterOk, 'flow8_audit_verification_last_failure_timestamp_seconds')).toHaveLength(0);

    // A database superuser alters one entry of B: the next verification of B fails.
    await withTransaction(audit.db.admin, async (c) => {
      await c.query('SET LOCAL session_replication_role = replica');
      await c.query(
        `UPDATE ledger_entries SET canonical = overlay(canonical placing '\\x21'::bytea from 30 for 1) WHERE tenant_id = $1 AND seq = 2`,
        [B],
      );
    });
    expect((await api('/v1/audit/verify', B)).json()).toMatchObject({ ok: false, firstBadSeq: 2 });
    expect((await api('/v1/audit/verify', A, { role: 'executor' })).status).toBe(403);
    expect((await api(`/v1/audit/nothing/${A}`, A)).status).toBe(404);
    expect((await api('/v1/audit/checkpoints', A, { method: 'POST' })).status).toBe(201);

    const after = await text();
    expect(one(after, 'flow8_audit_verification_last_result')).toBe(0);
    expect(one(after, 'flow8_audit_verifications_total', { result: 'failed' })).toBe(1);
    expect(one(after, 'flow8_audit_verification_last_failure_timestamp_seconds')).toBeGreaterThanOrEqual(at);
    expect(one(after, 'flow8_audit_checkpoints_signed_total', { trigger: 'on_demand' })).toBe(1);
    expect(one(after, 'flow8_audit_checkpoint_last_timestamp_seconds')).toBeGreaterThanOrEqual(startedAt);

    expect(count(after, '/v1/audit/verify', '2xx') - count(before, '/v1/audit/verify', '2xx')).toBe(2);
    expect(count(after, '/v1/audit/verify', '4xx') - count(before, '/v1/audit/verify', '4xx')).toBe(1);
    expect(count(after, 'unmatched', '4xx') - count(before, 'unmatched', '4xx')).toBe(1);
    expect(
      sum(after, 'http_server_requests_total', { method: 'POST', route: '/v1/audit/checkpoints', status_class: '2xx' }),
    ).toBe(1);
    expect(
      sum(after, 'http_server_duration_seconds_count', { route: '/v1/audit/verify', status_class: '2xx' }) -
        sum(before, 'http_server_duration_seconds_count', { route: '/v1/audit/verify', status_class: '2xx' }),
    ).toBe(2);
    expect(sum(after, 'http_server_duration_seconds_sum', { route: '/v1/audit/verify' })).toBeGreaterThan(0);

    // A healthy verification afterwards: the gauge says so again.
    await api('/v1/audit/verify', A);
    expect(one(await text(), 'flow8_audit_verification_last_result')).toBe(1);
  });

  test("the service's own audit events leave through its outbox: published, and no backlog left", async () => {
    const auditTopic = eventsTopic('audit', audit.prefix);
    const t = await eventually(
      async () => {
        const s = await text();
        return one(s, 'flow8_outbox_backlog') === 0 && // three verifications, each announced by an audit.chain.verified event
          sum(s, 'flow8_outbox_published_total', { topic: auditTopic }) === 3
          ? s
          : undefined;
      },
      { what: 'the verification events published, backlog 0' },
    );
    expect(one(t, 'flow8_outbox_relay_error')).toBe(0);
    expect(one(t, 'flow8_outbox_oldest_unsent_age_seconds')).toBe(0);
    expect(one(t, 'flow8_outbox_relay_last_success_timestamp_seconds')).toBeGreaterThanOrEqual(startedAt);
    expect(sum(t, 'flow8_outbox_publish_failures_total')).toBe(0);
  });

  test('no tenant id, user id, event id, address or key material appears anywhere in the scrape', async () => {
    const t = await text();
    const forbidden = [
      A,
      B,
      'ten_',
      'usr_',
      'usr_compliance',
      'usr_admin',
      '192.0.2.10',
      '203.0.113.9',
      ...published.map((e) => e.id),
      ...published.map((e) => e.resource.id),
      Buffer.from(audit.svc.keyPair.publicKey).toString('base64'),
    ];
    for (const value of forbidden) expect(t).not.toContain(value);
    // Every label value is one of a small, known vocabulary.
    const labelNames = new Set([...t.matchAll(/[{,]([a-z_]+)="/g)].map((m) => m[1]));
    expect([...labelNames].sort()).toEqual(
      [
        'consumer_group',
        // The periodic jobs' gauges (flow8_job_leader, …): a fixed job name, never tenant data.
        'job',
        'le',
        'method',
        'partition',
        'reason',
        'result',
        'route',
        'service_name',
        'status_class',
        'telemetry_sdk_language',
        'telemetry_sdk_name',
        'telemetry_sdk_version',
        'topic',
        'trigger',
      ].sort(),
    );
  });
});

describe('the real process (main.ts)', () => {
  let child: ServiceProcess | null = null;
  afterEach(async () => {
    await child?.stop();
  });

  test('serves /metrics on METRICS_PORT beside its HTTPS port, counting its own requests', async () => {
    const db = await freshDatabase('AUDIT', AUDIT_MIGRATIONS);
    try {
      const [port, metricsPort] = [await freePort(), await freePort()];
      const prefix = uniqueTopicPrefix();
      await provisionTopics(prefix);
      child = spawnService(
        'services/audit-ingest/src/main.ts',
        auditEnv(db, prefix, { PORT: String(port), METRICS_PORT: String(metricsPort), LOG_LEVEL: 'error' }),
      );
      const url = `http://127.0.0.1:${metricsPort}/metrics`;
      await eventually(async () => (await scrape(url)).status === 200, {
        what: 'metrics listener up',
        timeoutMs: 60_000,
      });
      await eventually(
        async () => (await httpsRequest(`https://localhost:${port}/readyz`, { as: 'testkit' })).status === 200,
        { what: 'audit-ingest ready', timeoutMs: 60_000 },
      );
      const t = (await scrape(url)).body;
      expect(t).toMatch(/^target_info\{service_name="audit-ingest",/m);
      expect(
        sum(t, 'http_server_requests_total', { method: 'GET', route: '/readyz', status_class: '2xx' }),
      ).toBeGreaterThanOrEqual(1);
      expect(one(t, 'flow8_outbox_relay_leader')).toBe(1);
      // The HTTPS port does not serve metrics; the metrics port does not serve the API.
      expect((await httpsRequest(`https://localhost:${port}/metrics`, { as: 'testkit' })).status).toBe(404);
      expect((await scrape(url.replace('/metrics', '/v1/audit/events'))).status).toBe(404);
      // The probes: on the HTTPS port only with a client certificate (a kubelet has none), so they
      // are also on the metrics port, answered by the same checks.
      await expect(httpsRequest(`https://localhost:${port}/healthz`, { as: null })).rejects.toThrow();
      const live = await scrape(url.replace('/metrics', '/healthz'));
      expect({ status: live.status, body: live.body }).toEqual({ status: 200, body: '{"status":"ok"}' });
      const ready = await scrape(url.replace('/metrics', '/readyz'));
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.body)).toMatchObject({ status: 'ready', checks: { postgres: 'ok' } });
    } finally {
      await db.drop();
    }
  });
});
