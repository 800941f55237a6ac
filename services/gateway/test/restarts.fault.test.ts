// The stack's infrastructure restarts under a running system (gateway, auth, audit-ingest,
// credential-vault in-process, the real Redis, PostgreSQL and Kafka of the local stack):
//  - Redis restarts empty: a revoked API key must stay refused on every request, before, during
//    and after — never 200 because the empty Redis "knows of no revocation";
//  - PostgreSQL is down: every route answers 503 UNAVAILABLE with Retry-After (retryable), not 500;
//  - Kafka is down while state changes commit: measured, how long after the broker is back the
//    last event is in the ledger and auth's /readyz is 200 again.
// Fault suites run serially after all others (scripts/test.sh): they stop shared infrastructure.
import {
  bearer,
  call,
  companyWithAdmin,
  eventually,
  httpsRequest,
  kafkaAnswers,
  must,
  randomId,
  redisAnswers,
  restartAndWait,
  restartStack,
  stopKafka,
  stopPostgres,
  stopRedis,
  strongPassword,
  type Company,
  type Res,
  type Session,
} from '@flow8/testkit';
import { NO_RATE_LIMITS, startGateway, startUpstreams, suiteKeys } from './harness';

type Gw = Awaited<ReturnType<typeof startGateway>>;
type Up = Awaited<ReturnType<typeof startUpstreams>>;

const keys = suiteKeys();
let up: Up;
let gw: Gw;
let company: Company;
let admin: Session;
/** An Admin's API key that stays valid, and one that was revoked before any fault. */
let live: { id: string; token: string };
let revoked: { id: string; token: string };

const errorCode = (r: Res) => r.json<{ error: { code: string } }>().error.code;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Sends requests one after another until stop() and returns every answer with its time. */
function hammer(send: () => Promise<Res>) {
  const answers: Array<{ at: number; status: number; code: string | null }> = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      try {
        const r = await send();
        answers.push({ at, status: r.status, code: r.status >= 400 ? errorCode(r) : null });
      } catch {
        answers.push({ at, status: 0, code: 'network' });
      }
    }
  })();
  return {
    answers,
    async stop() {
      running = false;
      await loop;
      return answers;
    },
  };
}

const count = (answers: Array<{ status: number }>) =>
  answers.reduce<Record<number, number>>((m, a) => ({ ...m, [a.status]: (m[a.status] ?? 0) + 1 }), {});

beforeAll(async () => {
  up = await startUpstreams(keys, { sharedPrefix: true });
  gw = await startGateway(keys, up.urls, NO_RATE_LIMITS);
  ({ company, admin } = await companyWithAdmin(gw.url, keys.operatorToken));
  const scopes = ['users:read', 'users:write', 'audit:read', 'credentials:read'];
  live = await must(gw.url, '/v1/api-keys', { method: 'POST', headers: admin.headers, body: { name: 'live', scopes } });
  revoked = await must(gw.url, '/v1/api-keys', {
    method: 'POST',
    headers: admin.headers,
    body: { name: 'to revoke', scopes },
  });
  await must(gw.url, `/v1/api-keys/${revoked.id}`, { method: 'DELETE', headers: admin.headers });
  expect((await call(gw.url, '/v1/users', { headers: bearer(revoked.token) })).status).toBe(401);
  expect((await call(gw.url, '/v1/users', { headers: bearer(live.token) })).status).toBe(200);
});

afterAll(async () => {
  const t0 = Date.now();
  // Whatever a failed test left stopped comes back for the suites after this one.
  await restartStack().catch(() => undefined);
  const t1 = Date.now();
  await gw?.stop();
  await up?.stop();
  console.log(`teardown: stack check ${seconds(t1 - t0)}, services stopped in ${seconds(Date.now() - t1)}`);
}, 180_000);

describe('Redis restarts empty', () => {
  test('a revoked API key is refused on every request across the restart; valid keys work again within seconds', async () => {
    const usingRevoked = hammer(() => call(gw.url, '/v1/users', { headers: bearer(revoked.token) }));
    const usingLive = hammer(() => call(gw.url, '/v1/users', { headers: bearer(live.token) }));
    await eventually(async () => usingRevoked.answers.length >= 5, { what: 'requests before the fault' });

    await stopRedis();
    await eventually(async () => usingLive.answers.some((a) => a.status === 503), { what: '503 while Redis is down' });
    const { back, done } = await restartAndWait(redisAnswers);
    // Valid keys recover once auth has re-written the revocations and set the sync marker.
    await eventually(async () => usingLive.answers.some((a) => a.at > back && a.status === 200), {
      what: 'the live key answered 200 after the restart',
      intervalMs: 50,
    });
    const recoveredAt = usingLive.answers.find((a) => a.at > back && a.status === 200)!.at;
    // Keep going a little past recovery: the window the issue found was right after it.
    const after = usingRevoked.answers.length;
    await eventually(async () => usingRevoked.answers.length >= after + 50, { what: '50 more revoked-key requests' });
    const revokedAnswers = await usingRevoked.stop();
    const liveAnswers = await usingLive.stop();
    await done;

    const afterRestart = revokedAnswers.filter((a) => a.at > back);
    console.log(
      `Redis restart: valid keys served again ${seconds(recoveredAt - back)} after Redis was back; ` +
        `revoked key: ${revokedAnswers.length} requests ${JSON.stringify(count(revokedAnswers))}, ` +
        `${afterRestart.length} of them after the restart; live key ${JSON.stringify(count(liveAnswers))}`,
    );
    // 100 %: never served. Refused as revoked (401) or, while the revocations cannot be checked, 503.
    expect(revokedAnswers.filter((a) => a.status === 200)).toEqual([]);
    expect(new Set(revokedAnswers.map((a) => a.status))).toEqual(new Set([401, 503]));
    expect(afterRestart.length).toBeGreaterThan(50);
    // Once recovered, the revocation is in the new Redis: refused as revoked, not as "unavailable".
    expect(revokedAnswers.at(-1)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect(recoveredAt - back).toBeLessThan(10_000);
  }, 240_000);
});

describe('PostgreSQL is down', () => {
  test('every service answers 503 UNAVAILABLE with Retry-After, and 200 again when it is back', async () => {
    const key = bearer(live.token);
    const probes: Array<[string, () => Promise<Res>]> = [
      ['auth: GET /v1/users (API key)', () => call(gw.url, '/v1/users', { headers: key })],
      ['auth: GET /v1/me (session)', () => call(gw.url, '/v1/me', { headers: admin.headers })],
      [
        'auth: POST /v1/auth/login',
        () =>
          call(gw.url, '/v1/auth/login', {
            method: 'POST',
            body: { tenant: company.slug, email: company.admin.email, password: company.admin.password },
          }),
      ],
      ['audit-ingest: GET /v1/audit/events', () => call(gw.url, '/v1/audit/events?limit=1', { headers: key })],
      ['credential-vault: GET /v1/credentials', () => call(gw.url, '/v1/credentials', { headers: key })],
    ];
    for (const [name, probe] of probes) expect([name, (await probe()).status]).toEqual([name, 200]);

    // Through the whole outage and restart (including "the database system is starting up"):
    // answers are 200 or 503, never a 500.
    const throughout = [
      hammer(() => call(gw.url, '/v1/users', { headers: key })),
      hammer(() => call(gw.url, '/v1/audit/events?limit=1', { headers: key })),
    ];
    await stopPostgres();
    try {
      for (const [name, probe] of probes) {
        const r = await probe();
        expect([name, r.status, errorCode(r)]).toEqual([name, 503, 'UNAVAILABLE']);
        expect([name, Number(r.headers['retry-after'])]).toEqual([name, expect.any(Number)]);
        expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      }
    } finally {
      await restartStack();
    }
    const back = Date.now();
    for (const [name, probe] of probes) {
      await eventually(async () => (await probe()).status === 200, { what: `${name} answers 200 again` });
    }
    const seen = (await Promise.all(throughout.map((h) => h.stop()))).flat();
    console.log(
      `PostgreSQL restart: every route answered 200 again ${seconds(Date.now() - back)} after the launcher ` +
        `returned; answers during the outage ${JSON.stringify(count(seen))}`,
    );
    expect(new Set(seen.map((a) => a.status))).toEqual(new Set([200, 503]));
  }, 240_000);
});

describe('Kafka is down while state changes commit', () => {
  test('the last event reaches the ledger, and auth is ready, within 10 s of the broker returning', async () => {
    const key = bearer(live.token);
    const ledgerCount = async (): Promise<number> => {
      const r = await up.audit.db.admin.query<{ n: string }>(
        "SELECT count(*) AS n FROM ledger_entries WHERE tenant_id = $1 AND event_type = 'identity.user.created'",
        [company.tenantId],
      );
      return Number(r.rows[0]!.n);
    };
    const before = await ledgerCount();
    const authReady = async () => (await httpsRequest(`${up.auth.url}/readyz`, { as: 'testkit' })).status === 200;
    expect(await authReady()).toBe(true);

    await stopKafka();
    const created: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      const u = await must<{ id: string }>(gw.url, '/v1/users', {
        method: 'POST',
        headers: key,
        body: { email: `k${i}-${randomId().slice(0, 8)}@outage.test`, password: strongPassword(), role: 'viewer' },
      });
      created.push(u.id);
    }
    // auth says it cannot publish (its relay failed), and the events wait in its outbox.
    await eventually(async () => !(await authReady()), { what: "auth's /readyz reporting Kafka down" });
    // Long enough for the relay's backoff to reach its ceiling, as in a real outage.
    await eventually(async () => up.auth.svc.relay.stats().failures >= 6, {
      what: 'the relay retrying',
      timeoutMs: 60_000,
    });

    const { back, done } = await restartAndWait(() => kafkaAnswers());
    // A broker that answers first loads its consumer groups (seconds on a busy machine); until
    // then no consumer can join. Timings are given from both moments.
    const groupId = `${up.audit.config.KAFKA_TOPIC_PREFIX}${up.audit.config.AUDIT_CONSUMER_GROUP}`;
    const at = (what: string, check: () => Promise<boolean>) =>
      eventually(async () => (await check()) && Date.now(), { what, timeoutMs: 120_000, intervalMs: 100 });
    const [groupsBack, publishedAt, readyAt, ledgerAt] = await Promise.all([
      at("the ledger consumer group's coordinator loaded", () => kafkaAnswers(groupId)),
      at("auth's outbox empty", async () => up.auth.svc.relay.stats().backlog === 0),
      at('auth ready', authReady),
      at('every event in the ledger', async () => (await ledgerCount()) >= before + created.length),
    ]);
    await done;
    console.log(
      `Kafka restart: auth /readyz 200 ${seconds(readyAt - back)}, its outbox empty ${seconds(publishedAt - back)} ` +
        `and the last event in the ledger ${seconds(ledgerAt - back)} after the broker answered ` +
        `(${seconds(ledgerAt - groupsBack)} after its group coordinator had loaded, ${seconds(groupsBack - back)} in)`,
    );
    const last = await up.audit.db.admin.query<{ n: string }>(
      'SELECT count(*) AS n FROM ledger_entries WHERE tenant_id = $1 AND resource_id = ANY($2::text[])',
      [company.tenantId, created],
    );
    expect(Number(last.rows[0]!.n)).toBe(created.length);
    expect(readyAt - back).toBeLessThanOrEqual(10_000);
    expect(ledgerAt - groupsBack).toBeLessThanOrEqual(10_000);
  }, 300_000);
});
