// Benchmark: audit-ingest's real consumer path against a raw COPY into the same table.
//
//   1. ingest — N events for T tenants are produced first onto the events topic of a fresh topic
//      prefix; then the real service (createAuditIngest, configured like the integration tests)
//      is started and timed from `start()` until all N rows are in ledger_entries.
//   2. copy   — the very rows the ingest wrote (same tenants, seq, canonical bytes, hashes) are
//      written with one text-format `COPY ledger_entries FROM STDIN` into a second fresh database
//      with the same migrations, on the same server (median of K such copies, default 3).
//   ratio = ingest events/s ÷ copy rows/s.
//
// Usage: tsx scripts/bench/audit-ingest.ts [--events N] [--tenants T] [--copy-runs K]
//        (or `bash scripts/bench/run.sh audit-ingest`, which sources the stack env first)
// Experiment knobs (bench process only, nothing in the service changes):
//   BENCH_CONSUMER_OPTS='{"maxBytesPerPartition":4194304}'   merged into kafka.consumer(...)
//   BENCH_RUN_OPTS='{"partitionsConsumedConcurrently":3}'      merged into consumer.run(...)
//   BENCH_PARTITIONS=3                                          partitions of the events topics
//   BENCH_DEBUG=1                                               progress on stderr
// The last line of stdout is one JSON object (see docs/benchmarks.md).
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { Kafka, type ConsumerConfig, type ConsumerRunConfig } from 'kafkajs';
import { createKafka, createPublisher, provisionBus, type OutgoingMessage } from '@flow8/bus';
import {
  buildEvent,
  DOMAINS,
  dlqTopic,
  eventsTopic,
  newId,
  parseEvent,
  topicForEvent,
  type AnyEvent,
} from '@flow8/contracts';
import type { Pool, PoolClient } from '@flow8/db';
import { chainHash, entryCanonical, GENESIS_HASH } from '@flow8/ledger';
import { createLogger } from '@flow8/telemetry';
import { adminKafka, certPair, freshDatabase, stackEnv, uniqueTopicPrefix, type TestDatabase } from '@flow8/testkit';
import { createAuditIngest } from '@flow8/audit-ingest';
import { AUDIT_MIGRATIONS, auditConfig } from '@flow8/audit-ingest/testing';

// ------------------------------------------------------------------------------------------
// Options
// ------------------------------------------------------------------------------------------
function intArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer`);
  return v;
}

function jsonEnv<T extends object>(name: string): Partial<T> {
  const raw = process.env[name];
  if (!raw) return {};
  const parsed: unknown = JSON.parse(raw);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`${name} must be a JSON object`);
  return parsed as Partial<T>;
}

// Large enough that start-up and group join (about 0.1 s) do not dominate the figure.
const EVENTS = intArg('events', 100_000);
const TENANTS = Math.min(intArg('tenants', 20), EVENTS);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 3);
const POLL_MS = 5;
const COPY_RUNS = intArg('copy-runs', 3);
const PRODUCE_CHUNK = 1000;
const consumerOpts = jsonEnv<ConsumerConfig>('BENCH_CONSUMER_OPTS');
const runOpts = jsonEnv<ConsumerRunConfig>('BENCH_RUN_OPTS');

const sec = (ms: number) => (ms / 1000).toFixed(2);
const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
const say = (line: string) => process.stdout.write(`${line}\n`);
const t00 = performance.now();
const step = (what: string) => {
  // The monotonic clock in µs is the one --cpu-prof timestamps use: it cuts a profile to a phase.
  if (process.env.BENCH_DEBUG)
    process.stderr.write(`[${sec(performance.now() - t00)} s, mono ${process.hrtime.bigint() / 1000n} µs] ${what}\n`);
};

// ------------------------------------------------------------------------------------------
// Experiment hook: extra kafkajs consumer/run options for this process only.
// ------------------------------------------------------------------------------------------
if (Object.keys(consumerOpts).length > 0 || Object.keys(runOpts).length > 0) {
  const original = Kafka.prototype.consumer;
  Kafka.prototype.consumer = function consumer(this: Kafka, config: ConsumerConfig) {
    const c = original.call(this, { ...config, ...consumerOpts });
    const run = c.run.bind(c);
    c.run = (cfg?: ConsumerRunConfig) => run({ ...cfg, ...runOpts });
    return c;
  };
}

// ------------------------------------------------------------------------------------------
// Per-statement timing of the service's pool (withTransaction → pool.connect() → client.query)
// ------------------------------------------------------------------------------------------
type Timing = { n: number; ms: number };
const statementTimes = new Map<string, Timing>();

function label(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  const known: Array<[RegExp, string]> = [
    [/^BEGIN/, 'BEGIN'],
    [/^COMMIT/, 'COMMIT'],
    [/^ROLLBACK/, 'ROLLBACK'],
    [/set_config\('app\.tenant_id'/, 'set tenant'],
    [/^INSERT INTO consumer_offsets/, 'offset lock'],
    [/^UPDATE consumer_offsets/, 'offset store'],
    [/ledger_recorded_event_ids/, 'known event ids'],
    [/^WITH t AS \(INSERT INTO ledger_tenants/, 'tenant+head insert'],
    [/FROM ledger_heads .*FOR UPDATE/, 'head lock'],
    [/CREATE TEMPORARY TABLE ledger_stage/, 'stage ensure'],
    [/^COPY pg_temp\.ledger_stage/, 'stage COPY'],
    [/^INSERT INTO ledger_sequence/, 'insert ledger_sequence'],
    [/^INSERT INTO ledger_entries/, 'insert ledger_entries'],
    [/^UPDATE ledger_heads/, 'head update'],
  ];
  for (const [re, name] of known) if (re.test(t)) return name;
  return `other: ${t.slice(0, 40)}`;
}

type ConnectFn = (...args: unknown[]) => unknown;

function instrumentPool(pool: Pool): void {
  const patched = new WeakSet<PoolClient>();
  const connect = pool.connect.bind(pool) as unknown as ConnectFn;
  (pool as unknown as { connect: ConnectFn }).connect = (...args: unknown[]) => {
    if (args.length > 0) return connect(...args); // pool.query's own callback path: not ours
    return (connect() as Promise<PoolClient>).then((client) => {
      if (!patched.has(client)) {
        patched.add(client);
        const query = client.query.bind(client) as unknown as (...args: unknown[]) => unknown;
        (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
          // Callback-style calls (pool.query reuses the same clients) and submittables pass through.
          const text = args[0];
          if (isCopySubmittable(text)) timeSubmittable(text);
          if (typeof text !== 'string' || args.some((a) => typeof a === 'function')) return query(...args);
          return timed(text, () => query(...args) as Promise<unknown>);
        };
      }
      return client;
    });
  };
}

// The ingest's COPY travels as a node-pg "submittable" (an object, not a query string): its SQL
// is only known when it is submitted, and it ends at ReadyForQuery.
interface Submittable {
  submit(connection: { query(text: string): void }): void;
  handleReadyForQuery(): void;
}
function isCopySubmittable(q: unknown): q is Submittable {
  return typeof q === 'object' && q !== null && 'submit' in q && 'handleCopyInResponse' in q;
}
function timeSubmittable(q: Submittable): void {
  const t0 = performance.now();
  let text = '';
  const submit = q.submit.bind(q);
  q.submit = (connection) => {
    const spy = Object.create(connection) as typeof connection;
    spy.query = (sql: string) => {
      text = sql;
      connection.query(sql);
    };
    submit(spy);
  };
  const done = q.handleReadyForQuery.bind(q);
  q.handleReadyForQuery = () => {
    void timed(text, () => Promise.resolve(), t0);
    done();
  };
}

async function timed(text: string, run: () => Promise<unknown>, t0 = performance.now()): Promise<unknown> {
  try {
    return await run();
  } finally {
    const key = label(text);
    const s = statementTimes.get(key) ?? { n: 0, ms: 0 };
    s.n += 1;
    s.ms += performance.now() - t0;
    statementTimes.set(key, s);
  }
}

// ------------------------------------------------------------------------------------------
// Raw COPY FROM STDIN on a pg client (what pg-copy-streams does, without the dependency)
// ------------------------------------------------------------------------------------------
interface CopyConnection {
  stream: Duplex;
  query(text: string): void;
}

function copyData(chunk: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header[0] = 0x64; // 'd' CopyData
  header.writeInt32BE(chunk.length + 4, 1);
  return Buffer.concat([header, chunk]);
}
const COPY_DONE = Buffer.from([0x63, 0, 0, 0, 4]); // 'c' CopyDone

function copyFrom(client: PoolClient, sql: string, data: Buffer, chunkBytes = 256 * 1024): Promise<number> {
  return new Promise((resolve, reject) => {
    let rowCount = -1;
    let failed = false;
    client.query({
      submit(connection: CopyConnection) {
        connection.query(sql);
      },
      handleCopyInResponse(connection: CopyConnection) {
        for (let o = 0; o < data.length; o += chunkBytes)
          connection.stream.write(copyData(data.subarray(o, o + chunkBytes)));
        connection.stream.write(COPY_DONE);
      },
      handleCommandComplete(msg: { text?: string }) {
        const m = /^COPY (\d+)/.exec(msg.text ?? '');
        if (m?.[1]) rowCount = Number(m[1]);
      },
      handleReadyForQuery() {
        if (!failed) resolve(rowCount);
      },
      handleError(err: Error) {
        failed = true;
        reject(err);
      },
      handleEmptyQuery() {},
      handleRowDescription() {},
      handleDataRow() {},
      handleCopyData() {},
    });
  });
}

function copyText(s: string): string {
  return s.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}
const copyBytea = (b: Buffer) => `\\\\x${b.toString('hex')}`;

interface StoredRow {
  tenant_id: string;
  seq: string;
  event_id: string;
  event_type: string;
  actor_type: string;
  actor_id: string;
  resource_type: string;
  resource_id: string;
  occurred_at: string;
  recorded_at: string;
  canonical: Buffer;
  prev_hash: Buffer;
  hash: Buffer;
}
const COPY_COLUMNS =
  'tenant_id, seq, event_id, event_type, actor_type, actor_id, resource_type, resource_id, occurred_at, recorded_at, canonical, prev_hash, hash';

function encodeCopy(rows: StoredRow[]): Buffer {
  const lines: string[] = [];
  for (const r of rows) {
    lines.push(
      [
        copyText(r.tenant_id),
        r.seq,
        r.event_id,
        copyText(r.event_type),
        copyText(r.actor_type),
        copyText(r.actor_id),
        copyText(r.resource_type),
        copyText(r.resource_id),
        r.occurred_at,
        r.recorded_at,
        copyBytea(r.canonical),
        copyBytea(r.prev_hash),
        copyBytea(r.hash),
      ].join('\t') + '\n',
    );
  }
  return Buffer.from(lines.join(''), 'utf8');
}

// ------------------------------------------------------------------------------------------
// The run
// ------------------------------------------------------------------------------------------
function makeEvents(tenants: string[]): AnyEvent[] {
  return Array.from({ length: EVENTS }, (_, i) => {
    const userId = newId('usr');
    return buildEvent({
      type: 'identity.user.created',
      tenantId: tenants[i % tenants.length]!,
      actor: { type: 'user', id: 'usr_admin', ip: '203.0.113.9' },
      resource: { type: 'user', id: userId },
      payload: { userId, role: 'viewer' },
    });
  });
}

/** Encodes the rows and writes them with one COPY in one transaction; returns the timings. */
async function copyInto(db: TestDatabase, rows: StoredRow[]): Promise<{ ms: number; encodeMs: number }> {
  // COPY FROM is refused on tables under row-level security for any role that RLS applies
  // to (FORCE makes that the owner too): the admin role bypasses RLS.
  const client = await db.admin.connect();
  let copied = -1;
  let ms = 0;
  let encodeMs = 0;
  try {
    await client.query('SELECT 1'); // a warm connection, like the service's pool
    const t = performance.now();
    const data = encodeCopy(rows);
    encodeMs = performance.now() - t;
    await client.query('BEGIN');
    copied = await copyFrom(client, `COPY ledger_entries (${COPY_COLUMNS}) FROM STDIN`, data);
    await client.query('COMMIT');
    ms = performance.now() - t;
  } finally {
    client.release();
  }
  const n = await count(db.admin);
  if (copied !== rows.length || n !== rows.length)
    throw new Error(`COPY wrote ${copied} (count ${n}), expected ${rows.length}`);
  return { ms, encodeMs };
}

async function count(pool: Pool): Promise<number> {
  const r = await pool.query<{ n: string }>('SELECT count(*) AS n FROM ledger_entries');
  return Number(r.rows[0]!.n);
}

async function main(): Promise<void> {
  const env = stackEnv();
  const prefix = uniqueTopicPrefix();
  const topics = DOMAINS.map((d) => eventsTopic(d, prefix));
  // The testkit principal may write every domain's topics under a provisioned test prefix.
  const tls = certPair('testkit');
  const kafka = createKafka({
    brokers: env.kafkaBrokers,
    clientId: 'bench-producer',
    tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
  });
  const dbs: TestDatabase[] = [];
  let stopService: (() => Promise<void>) | null = null;

  try {
    // --- produce (not timed) --------------------------------------------------------------
    step('topics');
    await provisionBus(adminKafka('bench-topics'), {
      prefix,
      partitions: PARTITIONS,
      replicationFactor: 1,
      testPrincipal: 'testkit',
    });
    const tenants = Array.from({ length: TENANTS }, () => newId('ten'));
    const events = makeEvents(tenants);
    const messages: OutgoingMessage[] = events.map((e) => ({
      topic: topicForEvent(e.type, prefix),
      key: e.tenantId,
      value: Buffer.from(JSON.stringify(e)),
      headers: { 'content-type': 'application/json', 'flow8-event-type': e.type, 'flow8-event-id': e.id },
    }));
    step('producing');
    const publisher = createPublisher(kafka);
    const tp = performance.now();
    for (let i = 0; i < messages.length; i += PRODUCE_CHUNK)
      await publisher.publish(messages.slice(i, i + PRODUCE_CHUNK));
    const produceMs = performance.now() - tp;
    await publisher.disconnect();
    const bytes = messages.reduce((s, m) => s + m.value.length, 0);

    // --- ingest (timed) -------------------------------------------------------------------
    step('ingest db');
    const ingestDb = await freshDatabase('AUDIT', AUDIT_MIGRATIONS);
    dbs.push(ingestDb);
    const config = auditConfig(ingestDb, prefix, {
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    });
    const svc = await createAuditIngest(config, createLogger({ service: 'audit-ingest', level: config.LOG_LEVEL }));
    stopService = async () => {
      await svc.app.close();
      await svc.stop();
    };
    instrumentPool(svc.pool);
    const batchSizes: number[] = [];
    let inBatchMs = 0;
    let firstBatchAt = 0;
    let lastBatchEnd = 0;
    const ingestBatch = svc.ingest.ingestBatch.bind(svc.ingest);
    svc.ingest.ingestBatch = async (batch) => {
      const t = performance.now();
      if (firstBatchAt === 0) firstBatchAt = t;
      try {
        return await ingestBatch(batch);
      } finally {
        lastBatchEnd = performance.now();
        inBatchMs += lastBatchEnd - t;
        batchSizes.push(batch.events.length);
      }
    };

    step('starting service');
    const t0 = performance.now();
    await svc.start();
    const startedAt = performance.now();
    const deadline = t0 + Math.max(120_000, EVENTS * 10);
    let n = 0;
    // Done when the service has committed N rows: its own counter, bumped after each COMMIT,
    // read in-process. (Polling count(*) every 50 ms, as this bench first did, scanned the
    // growing table 20 times a second, on the same two cores as the ingest it was timing.)
    while ((n = svc.ingest.stats().appended) < EVENTS) {
      if (performance.now() > deadline)
        throw new Error(`timed out: ${n}/${EVENTS} rows after ${sec(performance.now() - t0)} s`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    step('ingested');
    const ingestMs = performance.now() - t0;
    const stored = await count(ingestDb.admin);
    if (stored !== EVENTS) throw new Error(`the service counted ${n} appended, ledger_entries holds ${stored}`);
    const stats = svc.ingest.stats();
    const consumerStats = svc.consumer.stats();
    await stopService();
    stopService = null;

    // --- copy baseline (timed: encode + BEGIN/COPY/COMMIT) ----------------------------------
    const { rows } = await ingestDb.admin.query<StoredRow>(
      `SELECT tenant_id, seq::text AS seq, event_id::text AS event_id, event_type, actor_type, actor_id, resource_type, resource_id,
              occurred_at::text AS occurred_at, recorded_at::text AS recorded_at, canonical, prev_hash, hash
       FROM ledger_entries ORDER BY tenant_id, seq`,
    );
    // Median of COPY_RUNS copies, each into its own fresh database: one COPY of 20k rows takes
    // well under a second and is at the mercy of the other processes on a 2-core machine.
    const copyRuns: Array<{ ms: number; encodeMs: number }> = [];
    for (let i = 0; i < COPY_RUNS; i += 1) {
      step(`copy ${i + 1}/${COPY_RUNS}`);
      const copyDb = await freshDatabase('AUDIT', AUDIT_MIGRATIONS);
      dbs.push(copyDb);
      copyRuns.push(await copyInto(copyDb, rows));
      await copyDb.drop();
      dbs.splice(dbs.indexOf(copyDb), 1);
    }
    const median = [...copyRuns].sort((a, b) => a.ms - b.ms)[Math.floor(copyRuns.length / 2)]!;
    const copyMs = median.ms;
    const encodeMs = median.encodeMs;

    // --- where the time goes, offline (same events, same process) ----------------------------
    const tParse = performance.now();
    for (const m of messages) if (!parseEvent(m.value).ok) throw new Error('an event the bench built is invalid');
    const parseMs = performance.now() - tParse;
    const tHash = performance.now();
    const prevByTenant = new Map<string, Uint8Array>();
    const recordedAt = new Date().toISOString();
    events.forEach((e, i) => {
      const canonical = entryCanonical({
        tenantId: e.tenantId,
        seq: i + 1,
        eventId: e.id,
        type: e.type,
        occurredAt: e.occurredAt,
        recordedAt,
        actor: e.actor,
        resource: e.resource,
        purpose: e.purpose,
        traceparent: e.traceparent,
        payload: e.payload as unknown as Record<string, unknown>,
      });
      prevByTenant.set(e.tenantId, chainHash(prevByTenant.get(e.tenantId) ?? GENESIS_HASH, canonical));
    });
    const hashMs = performance.now() - tHash;

    // --- report ----------------------------------------------------------------------------
    const ingestRate = rate(EVENTS, ingestMs);
    const copyRate = rate(EVENTS, copyMs);
    const ratio = Math.round((ingestRate / copyRate) * 1000) / 1000;
    const avgBatch = stats.batches > 0 ? stats.appended / stats.batches : 0;
    const sqlMs = [...statementTimes.values()].reduce((s, t) => s + t.ms, 0);
    say(
      `audit-ingest bench: ${EVENTS} events (${(bytes / 1e6).toFixed(1)} MB JSON), ${TENANTS} tenants, ${PARTITIONS} partitions, prefix ${prefix}`,
    );
    say(`  produce (untimed): ${sec(produceMs)} s`);
    say(
      `  ingest: ${EVENTS} rows in ${sec(ingestMs)} s = ${ingestRate} events/s ` +
        `(start()+group join ${sec(startedAt - t0)} s, first batch→last commit ${sec(lastBatchEnd - firstBatchAt)} s)`,
    );
    say(
      `    batches ${stats.batches}, avg ${avgBatch.toFixed(0)} events/batch (min ${Math.min(...batchSizes)}, max ${Math.max(...batchSizes)}), ` +
        `appended ${stats.appended}, duplicates ${stats.duplicates}, handler failures ${consumerStats.handlerFailures}, dead-lettered ${consumerStats.deadLettered}`,
    );
    say(
      `    inside ingestBatch ${sec(inBatchMs)} s (${((inBatchMs / ingestMs) * 100).toFixed(0)}% of wall): ` +
        `SQL ${sec(sqlMs)} s, JS (grouping, canonical JSON, SHA-256, arrays) ${sec(inBatchMs - sqlMs)} s`,
    );
    const top = [...statementTimes].sort((a, b) => b[1].ms - a[1].ms);
    say(`    SQL by statement: ${top.map(([k, t]) => `${k} ${t.ms.toFixed(0)} ms/${t.n}`).join(', ')}`);
    say(
      // Partitions are handled concurrently, so the time inside batches can exceed the wall time.
      `    outside ingestBatch ${inBatchMs < ingestMs ? `${sec(ingestMs - inBatchMs)} s` : 'n/a (batches overlap)'} (startup, Kafka fetch, parse+validate, poll lag); ` +
        `offline: parse+validate ${((parseMs * 1000) / EVENTS).toFixed(1)} µs/event (${sec(parseMs)} s), ` +
        `canonical+hash ${((hashMs * 1000) / EVENTS).toFixed(1)} µs/event (${sec(hashMs)} s)`,
    );
    say(
      `  copy: ${EVENTS} rows in ${sec(copyMs)} s = ${copyRate} rows/s (median of ${COPY_RUNS}: ${copyRuns.map((r) => sec(r.ms)).join(' / ')} s; encode ${encodeMs.toFixed(0)} ms, ${(copyMs - encodeMs).toFixed(0)} ms COPY+COMMIT)`,
    );
    say(`  ratio: ${ratio} (target >= 0.5)`);
    say(
      JSON.stringify({
        bench: 'audit-ingest',
        ratio,
        value: ingestRate,
        unit: 'events/s',
        baseline: 'copy',
        baselineValue: copyRate,
        events: EVENTS,
      }),
    );
  } finally {
    if (stopService) await stopService().catch(() => undefined);
    await Promise.allSettled(dbs.map((d) => d.drop()));
    const admin = adminKafka('bench-cleanup').admin();
    await admin
      .connect()
      .then(() => admin.deleteTopics({ topics: [...topics, ...topics.map(dlqTopic)] }))
      .catch(() => undefined)
      .finally(() => admin.disconnect());
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`audit-ingest bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
