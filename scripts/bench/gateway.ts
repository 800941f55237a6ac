// Benchmark: the gateway's front door against a bare Fastify hello, and its full proxied route
// against a bare proxy doing the same physical work.
//
//   gateway  — GET /v1/me with an API-key JWT: HTTPS (gateway cert), client IP, JWT verified
//              against auth's JWKS (Ed25519, cached per token), one Redis round trip (rate-limit
//              Lua script for IP, key and tenant + revocation check + tenant allowlist), route
//              authorization, the RateLimit-* and security headers, response schema. The real
//              createGateway (package @flow8/gateway), answered by the gateway itself.
//   proxied  — GET /v1/users with the same key: all of the above, then forwarded to the real auth
//              service over mTLS with the internal identity token; auth verifies caller
//              certificate + identity, lists the company's users from Postgres (row-level
//              security, tenant context) and the gateway relays the JSON through its response
//              schema. auth runs in its OWN process (as deployed), with a fresh database, its own
//              topic prefix, the stack's Redis (started by @flow8/auth/testing's startAuth).
//   floor    — the proxied route's same-work floor: a bare Fastify HTTPS proxy (same certificate)
//              forwarding GET /v1/users over keep-alive mTLS (undici, the gateway's client
//              certificate and pool settings) to a bare Fastify mTLS upstream in auth's process
//              that runs auth's very transaction (BEGIN + tenant setting, the same SELECT, COMMIT)
//              on auth's database with the same role and pool size; the bytes are relayed.
//   hello    — a bare Fastify app (no kit, no hooks) on HTTPS with the same certificate and key,
//              answering GET /hello with {"hello":"world"}.
//   kit      — (diagnosis) the same hello on the @flow8/http service kit the gateway is built on.
// The gateway and the front servers listen in this process; the load comes from a SECOND process
// (scripts/bench/lib/load-worker.ts): undici pools with C keep-alive connections, bounded by time
// (--seconds) and by a request cap. Rounds alternate the targets (--rounds), and each target's
// figure is the median.
//   ratio         = gateway req/s ÷ hello req/s. Target ≥ 0.5.
//   proxied_ratio = proxied req/s ÷ floor req/s. Target ≥ 0.5. (proxied_ratio_vs_hello: the old
//                   proxied ÷ hello figure.)
//
// Usage: tsx scripts/bench/gateway.ts [--seconds 5] [--connections 32] [--rounds 3]
//                                     [--targets hello,gateway,proxied,floor,kit]
//        (or `bash scripts/bench/run.sh gateway`, which sources the stack env first)
//        BENCH_DEBUG=1 prints each load run's raw result (answers, wire errors, slowest request) on stderr.
// Profiling: run this process with `node --cpu-prof --import tsx scripts/bench/gateway.ts
// --targets gateway` (the gateway is in this process; the load generator and auth are not;
// BENCH_CPU_PROF_DIR=<dir> profiles auth's process too).
// The last line of stdout is one JSON object (see docs/benchmarks.md).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { Agent, Pool } from 'undici';
import type { WorkerJob, WorkerResult } from './lib/load-worker';
import { dlqTopic, eventsTopic } from '@flow8/contracts';
import { createPool, withTenant } from '@flow8/db';
import { buildServiceApp, ed25519RawPublicKey } from '@flow8/http';
import { signEdDsaJwt } from '@flow8/jwt';
import { createLogger } from '@flow8/telemetry';
import { adminKafka, certPair, stackEnv } from '@flow8/testkit';
import { startAuth } from '@flow8/auth/testing';
import { createGateway, gatewayConfigSchema } from '@flow8/gateway';

const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const WORKER = fileURLToPath(new URL('./lib/load-worker.ts', import.meta.url));
const TARGETS = ['hello', 'gateway', 'proxied', 'floor', 'kit'] as const;
type TargetName = (typeof TARGETS)[number];

function intArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer`);
  return v;
}

function targetsArg(): TargetName[] {
  const i = process.argv.indexOf('--targets');
  if (i < 0) return [...TARGETS];
  const names = (process.argv[i + 1] ?? '').split(',').filter(Boolean);
  for (const n of names) if (!(TARGETS as readonly string[]).includes(n)) throw new Error(`unknown target ${n}`);
  return names as TargetName[];
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

// ------------------------------------------------------------------------------------------
// The load generator: its own light process (scripts/bench/lib/load-worker.ts)
// ------------------------------------------------------------------------------------------
function runWorker(job: WorkerJob): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [WORKER], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    // Killed only if it hangs: 120 s to start, then the run's length plus 60 s.
    let killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (c: Buffer) => {
      if (out === '' && c.toString().startsWith('{"started":true}')) {
        clearTimeout(killer);
        killer = setTimeout(() => child.kill('SIGKILL'), (job.seconds + 61) * 1000);
      }
      out += c.toString();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`load worker for ${job.origin}${job.path} exited ${code ?? signal}`));
      resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as WorkerResult);
    });
    child.stdin.end(JSON.stringify(job));
  });
}

// ------------------------------------------------------------------------------------------
// The upstream: the real auth service in its own process (child), as it is deployed
// ------------------------------------------------------------------------------------------
interface UpstreamJob {
  identityPublicKey: string;
  apiKeySeed: string;
}

/**
 * The same-work floor's upstream: a bare Fastify HTTPS server that asks for the caller's
 * certificate (mTLS, our CA) and runs, for GET /v1/users, the very transaction auth runs for it on
 * the same database with the same runtime role and pool size — `BEGIN; set_config(tenant)` in one
 * message, the same keyset SELECT, COMMIT — and answers the rows as JSON. No identity token, no
 * hooks, no schema: what is left when everything but the physical work is taken away.
 */
async function startFloorUpstream(dbUrl: string): Promise<{ url: string; close: () => Promise<void> }> {
  const env = stackEnv();
  const tls = certPair('auth');
  const pool = createPool({ url: dbUrl, caFile: env.caFile, max: 10, applicationName: 'bench-floor' });
  const app = Fastify({
    https: {
      key: tls.key,
      cert: tls.cert,
      ca: tls.ca,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    },
  });
  app.get('/v1/users', async (req) => {
    const tenantId = String(req.headers['x-tenant-id']);
    const rows = await withTenant(pool, tenantId, async (tx) => {
      const r = await tx.query(
        'SELECT id, tenant_id, email, role, created_at, updated_at FROM users WHERE tenant_id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3',
        [tenantId, null, 51],
      );
      return r.rows;
    });
    return { items: rows, nextCursor: null };
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    async close() {
      await app.close();
      await pool.end();
    },
  };
}

/**
 * Child side: starts auth and the floor's upstream (same database), prints
 * {"url","floorUrl","prefix"}, stops and drops everything when stdin ends.
 */
async function upstream(job: UpstreamJob): Promise<void> {
  const env = stackEnv();
  const auth = await startAuth({
    overrides: {
      INTERNAL_IDENTITY_PUBLIC_KEYS: job.identityPublicKey,
      AUTH_API_KEY_SIGNING_KEYS: job.apiKeySeed,
      REDIS_URL: env.redisUrl,
      // The harness keeps every line in memory: warn keeps that small under load.
      LOG_LEVEL: 'warn',
    },
  });
  const floor = await startFloorUpstream(auth.db.appUrl);
  process.stdout.write(JSON.stringify({ url: auth.url, floorUrl: floor.url, prefix: auth.prefix }) + '\n');
  await new Promise<void>((resolve) => {
    process.stdin.on('end', resolve);
    process.stdin.on('close', resolve);
    process.stdin.resume();
  });
  await floor.close().catch(() => undefined);
  await auth.stop().catch(() => undefined);
  await auth.db.drop().catch(() => undefined);
  const admin = adminKafka('bench-cleanup').admin();
  const topic = eventsTopic('identity', auth.prefix);
  await admin
    .connect()
    .then(() => admin.deleteTopics({ topics: [topic, dlqTopic(topic)] }))
    .catch(() => undefined)
    .finally(() => admin.disconnect());
}

async function startUpstreamProcess(
  job: UpstreamJob,
): Promise<{ url: string; floorUrl: string; stop: () => Promise<void> }> {
  // BENCH_CPU_PROF_DIR=<dir>: auth's process writes a V8 CPU profile there when it stops.
  const profDir = process.env.BENCH_CPU_PROF_DIR;
  const child: ChildProcess = profDir
    ? spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--import', 'tsx', SELF, '--upstream'], {
        stdio: ['pipe', 'pipe', 'inherit'],
      })
    : spawn(TSX, [SELF, '--upstream'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  child.stdin?.write(JSON.stringify(job) + '\n');
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<{ url: string; floorUrl: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('auth did not start within 60 s')), 60_000);
    // Only the ready line counts: anything else the child prints is not the protocol.
    lines.on('line', (l) => {
      if (!l.startsWith('{"url":')) return;
      clearTimeout(timer);
      resolve(JSON.parse(l) as { url: string; floorUrl: string });
    });
    void exited.then((code) => reject(new Error(`auth process exited ${code} before it was ready`)));
  });
  return {
    url: ready.url,
    floorUrl: ready.floorUrl,
    async stop() {
      child.stdin?.end();
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

// ------------------------------------------------------------------------------------------
// The run
// ------------------------------------------------------------------------------------------
async function request(
  origin: string,
  ca: string,
  o: { method: string; path: string; headers?: Record<string, string>; body?: unknown },
): Promise<{ status: number; body: string }> {
  const pool = new Pool(origin, { connect: { ca } });
  try {
    const res = await pool.request({
      method: o.method as 'GET',
      path: o.path,
      headers: { ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
    return { status: res.statusCode, body: await res.body.text() };
  } finally {
    await pool.close();
  }
}

async function main(): Promise<void> {
  const SECONDS = intArg('seconds', 5);
  const CONNECTIONS = intArg('connections', 32);
  const ROUNDS = intArg('rounds', 3);
  const targets = targetsArg();
  const MAX_REQUESTS = 2_000_000;
  const env = stackEnv();
  const tls = certPair('gateway');
  const say = (line: string) => process.stdout.write(`${line}\n`);

  // The suite's keys: auth signs API keys with apiKeySeed and trusts the gateway's identity key.
  const identitySeed = randomBytes(32);
  const apiKeySeed = randomBytes(32);
  const operatorToken = randomBytes(32).toString('base64url');
  const auth = await startUpstreamProcess({
    identityPublicKey: b64(ed25519RawPublicKey(identitySeed)),
    apiKeySeed: b64(apiKeySeed),
  });

  const closers: Array<() => Promise<unknown>> = [() => auth.stop()];
  try {
    const config = gatewayConfigSchema.parse({
      PORT: '8443',
      FLOW8_CA_FILE: env.caFile,
      TLS_CERT_FILE: tls.certFile,
      TLS_KEY_FILE: tls.keyFile,
      REDIS_URL: env.redisUrl,
      // API keys are checked against auth's real JWKS (mTLS), fetched once at start.
      GATEWAY_AUTH_URL: auth.url,
      GATEWAY_IDENTITY_SIGNING_KEY: b64(identitySeed),
      GATEWAY_OPERATOR_TOKEN: operatorToken,
      // Limits high enough never to trip, so every request pays the full Redis script.
      GATEWAY_RATE_LIMIT_USER: '1000000000',
      GATEWAY_RATE_LIMIT_IP: '1000000000',
      GATEWAY_RATE_LIMIT_TENANT: '1000000000',
      GATEWAY_RATE_LIMIT_WINDOW: '60s',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    });
    const gw = await createGateway(config, createLogger({ service: 'gateway', level: config.LOG_LEVEL }));
    closers.unshift(async () => {
      await gw.app.close();
      await gw.stop();
    });
    await gw.start();
    const gwUrl = await gw.app.listen({ host: '127.0.0.1', port: 0 });

    const hello = Fastify({ https: { key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' } });
    hello.get('/hello', async () => ({ hello: 'world' }));
    closers.unshift(() => hello.close());
    const helloUrl = await hello.listen({ host: '127.0.0.1', port: 0 });
    // Diagnosis only: the same hello on the flow8 service kit (@flow8/http) the gateway is built
    // on, so the report separates the kit's per-request cost from the gateway's own.
    const kit = buildServiceApp({
      service: 'bench-kit',
      logger: createLogger({ service: 'bench-kit', level: config.LOG_LEVEL }),
      tls: { key: tls.key, cert: tls.cert },
    });
    kit.get('/hello', async () => ({ hello: 'world' }));
    closers.unshift(() => kit.close());
    const kitUrl = await kit.listen({ host: '127.0.0.1', port: 0 });

    // The proxied route's same-work floor: a bare Fastify HTTPS proxy (same certificate) that
    // forwards GET /v1/users over keep-alive mTLS (undici, the gateway's client certificate and
    // pool settings) to the bare upstream in auth's process, which runs auth's transaction on
    // auth's database; the answer's bytes are relayed as they come.
    const floorAgent = new Agent({
      connect: { ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', rejectUnauthorized: true },
      keepAliveTimeout: 10_000,
      connections: 128,
    });
    const floor = Fastify({ https: { key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' } });
    floor.get('/v1/users', async (req, reply) => {
      const res = await floorAgent.request({
        origin: auth.floorUrl,
        path: '/v1/users',
        method: 'GET',
        headers: { accept: 'application/json', 'x-tenant-id': String(req.headers['x-tenant-id']) },
      });
      reply.code(res.statusCode).header('content-type', 'application/json; charset=utf-8');
      return reply.send(Buffer.from(await res.body.arrayBuffer()));
    });
    closers.unshift(async () => {
      await floor.close();
      await floorAgent.close();
    });
    const floorUrl = await floor.listen({ host: '127.0.0.1', port: 0 });

    // A real company and its first Admin, created by the platform operator through the gateway;
    // the key is minted exactly as auth issues it (auth's signing seed), for that Admin.
    const company = await request(gwUrl, tls.ca, {
      method: 'POST',
      path: '/v1/tenants',
      headers: { authorization: `Bearer ${operatorToken}` },
      body: {
        name: 'Bench Co',
        slug: `bench-${randomBytes(4).toString('hex')}`,
        admin: { email: 'admin@bench.test', password: `Pw-${randomBytes(15).toString('base64url')}!7` },
      },
    });
    if (company.status !== 201) throw new Error(`creating the company answered ${company.status}`);
    const created = JSON.parse(company.body) as { tenant: { id: string }; admin: { id: string } };
    const now = Math.floor(Date.now() / 1000);
    const token = signEdDsaJwt(
      {},
      {
        iss: 'flow8-auth',
        sub: 'key_01bench0000000000000000000',
        tid: created.tenant.id,
        uid: created.admin.id,
        role: 'admin',
        scopes: ['audit:read', 'users:read'],
        cidrs: [],
        iat: now,
        nbf: now,
        exp: now + 3600,
        jti: randomBytes(16).toString('hex'),
      },
      apiKeySeed,
    );
    const authz = { authorization: `Bearer ${token}` };
    for (const path of ['/v1/me', '/v1/users']) {
      const probe = await request(gwUrl, tls.ca, { method: 'GET', path, headers: authz });
      if (probe.status !== 200) throw new Error(`gateway answered ${probe.status} to GET ${path}`);
    }

    const jobs: Record<TargetName, Pick<WorkerJob, 'origin' | 'path' | 'headers'>> = {
      hello: { origin: helloUrl, path: '/hello', headers: {} },
      gateway: { origin: gwUrl, path: '/v1/me', headers: authz },
      proxied: { origin: gwUrl, path: '/v1/users', headers: authz },
      floor: { origin: floorUrl, path: '/v1/users', headers: { 'x-tenant-id': created.tenant.id } },
      kit: { origin: kitUrl, path: '/hello', headers: {} },
    };
    const base = { ca: tls.ca, connections: CONNECTIONS, seconds: SECONDS, maxRequests: MAX_REQUESTS };
    const rates: Record<TargetName, number[]> = { hello: [], gateway: [], proxied: [], floor: [], kit: [] };
    let errors = 0;
    for (let round = 1; round <= ROUNDS; round += 1) {
      const parts: string[] = [];
      for (const t of targets) {
        if (process.env.BENCH_DEBUG) process.stderr.write(`round ${round}: ${t}…\n`);
        const r = await runWorker({ ...base, ...jobs[t] });
        if (process.env.BENCH_DEBUG) process.stderr.write(`  ${JSON.stringify(r)}\n`);
        // Wire errors (ECONNRESET, …) and non-200 answers, warm-up included, all fail the bench.
        const failed = Object.values(r.statuses).reduce((a, n) => a + n, 0);
        errors += failed;
        if (failed > 0) say(`  round ${round}: ${t} failed requests ${JSON.stringify(r.statuses)}`);
        rates[t].push(Math.round(r.ok / (r.ms / 1000)));
        parts.push(`${t} ${rates[t].at(-1)} req/s`);
      }
      say(`  round ${round}: ${parts.join(', ')}`);
    }
    if (errors > 0) throw new Error(`${errors} requests did not answer 200`);

    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const m = {
      hello: median(rates.hello),
      gateway: median(rates.gateway),
      proxied: median(rates.proxied),
      floor: median(rates.floor),
      kit: median(rates.kit),
    };
    const ratioOf = (v: number, base: number) => (base > 0 && v > 0 ? Math.round((v / base) * 1000) / 1000 : null);
    const ratio = ratioOf(m.gateway, m.hello);
    const proxiedRatio = ratioOf(m.proxied, m.floor);
    const proxiedVsHello = ratioOf(m.proxied, m.hello);
    say(
      `gateway bench: ${CONNECTIONS} keep-alive connections from a second process, ${SECONDS} s per run, ${ROUNDS} rounds (median)`,
    );
    say(`  fastify-hello (same TLS cert): ${m.hello} req/s`);
    say(`  gateway GET /v1/me (API-key JWT + Redis rate limit/revocation/allowlist + authz): ${m.gateway} req/s`);
    say(`  proxied GET /v1/users (all of the above + mTLS to auth + identity token + Postgres): ${m.proxied} req/s`);
    say(
      `  proxy-floor GET /v1/users (bare Fastify proxy, keep-alive mTLS, bare upstream running auth's transaction): ${m.floor} req/s`,
    );
    if (m.kit > 0 && m.hello > 0)
      say(
        `  diagnosis — hello on the @flow8/http kit: ${m.kit} req/s (ratio ${(m.kit / m.hello).toFixed(3)}); the gateway's own work on top of the kit: ${(m.gateway / m.kit).toFixed(3)}`,
      );
    say(
      `  ratio: ${ratio} (target >= 0.5); proxied_ratio: ${proxiedRatio} (proxied ÷ proxy-floor, target >= 0.5); proxied ÷ hello: ${proxiedVsHello}`,
    );
    say(
      JSON.stringify({
        bench: 'gateway',
        ratio,
        value: m.gateway,
        unit: 'req/s',
        baseline: 'fastify-hello',
        baselineValue: m.hello,
        route: 'GET /v1/me',
        proxied_ratio: proxiedRatio,
        proxiedValue: m.proxied,
        proxiedRoute: 'GET /v1/users',
        proxiedBaseline: 'proxy-floor',
        proxiedBaselineValue: m.floor,
        proxied_ratio_vs_hello: proxiedVsHello,
        kitHelloValue: m.kit,
        connections: CONNECTIONS,
        seconds: SECONDS,
        rounds: ROUNDS,
      }),
    );
  } finally {
    for (const close of closers) await close().catch(() => undefined);
  }
}

function readStdinJson<T>(): Promise<T> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: process.stdin });
    lines.once('line', (l) => {
      try {
        resolve(JSON.parse(l) as T);
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

function exitWith(what: string, p: Promise<void>): void {
  p.then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${what} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}

if (process.argv.includes('--upstream')) {
  exitWith('auth upstream', readStdinJson<UpstreamJob>().then(upstream));
} else {
  exitWith('gateway bench', main());
}
