// Benchmark: the gateway's full front door against a bare Fastify hello route.
//
//   gateway  — GET /v1/me with an API-key JWT: HTTPS (gateway cert), client IP, JWT verified
//              against the JWKS (Ed25519), one Redis round trip (rate-limit Lua script for IP, key
//              and tenant + revocation check + tenant allowlist), route authorization, the
//              RateLimit-* and security headers, response schema. The real createGateway.
//   baseline — a bare Fastify app (no kit, no hooks) on HTTPS with the same certificate and key,
//              answering GET /hello with {"hello":"world"}.
// Both listen in this process; the load comes from a SECOND process (this file with --worker):
// undici pools with C keep-alive connections, bounded by time (--seconds) and by a request cap.
// Rounds alternate baseline/gateway (--rounds), and each target's figure is the median.
//   ratio = gateway req/s ÷ baseline req/s. Target ≥ 0.5.
//
// Usage: tsx scripts/bench/gateway.ts [--seconds 5] [--connections 32] [--rounds 3]
//        (or `bash scripts/bench/run.sh gateway`, which sources the stack env first)
// The last line of stdout is one JSON object (see docs/benchmarks.md).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:https';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { Pool } from 'undici';
import { ed25519PublicKeyOfSeed, jwksFromPublicKeys, signEdDsaJwt } from '@flow8/jwt';
import { buildServiceApp } from '@flow8/http';
import { createLogger } from '@flow8/telemetry';
import { certPair, stackEnv } from '@flow8/testkit';
import { gatewayConfigSchema } from '../../services/gateway/src/config';
import { createGateway } from '../../services/gateway/src/service';

function intArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer`);
  return v;
}

// ------------------------------------------------------------------------------------------
// The load generator (child process)
// ------------------------------------------------------------------------------------------
interface WorkerJob {
  origin: string;
  path: string;
  headers: Record<string, string>;
  ca: string;
  connections: number;
  seconds: number;
  maxRequests: number;
}

async function worker(job: WorkerJob): Promise<void> {
  const pool = new Pool(job.origin, { connections: job.connections, connect: { ca: job.ca } });
  const hit = async () => {
    const res = await pool.request({ path: job.path, method: 'GET', headers: job.headers });
    await res.body.dump();
    return res.statusCode;
  };
  // Warm-up: TLS handshakes and JIT, not counted.
  const warmEnd = Date.now() + 1000;
  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      while (Date.now() < warmEnd) await hit();
    }),
  );
  let ok = 0;
  let bad = 0;
  const statuses: Record<string, number> = {};
  const t0 = performance.now();
  const end = Date.now() + job.seconds * 1000;
  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      while (Date.now() < end && ok + bad < job.maxRequests) {
        const s = await hit();
        if (s === 200) ok += 1;
        else {
          bad += 1;
          statuses[s] = (statuses[s] ?? 0) + 1;
        }
      }
    }),
  );
  const ms = performance.now() - t0;
  await pool.close();
  process.stdout.write(JSON.stringify({ ok, bad, ms, statuses }) + '\n');
}

function runWorker(job: WorkerJob): Promise<{ ok: number; bad: number; ms: number; statuses: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
    const child = spawn(tsx, [fileURLToPath(import.meta.url), '--worker'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), (job.seconds + 30) * 1000);
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`load worker exited ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as Awaited<ReturnType<typeof runWorker>>);
    });
    child.stdin.end(JSON.stringify(job));
  });
}

// ------------------------------------------------------------------------------------------
// The run
// ------------------------------------------------------------------------------------------
async function main(): Promise<void> {
  const SECONDS = intArg('seconds', 5);
  const CONNECTIONS = intArg('connections', 32);
  const ROUNDS = intArg('rounds', 3);
  const MAX_REQUESTS = 2_000_000;
  const env = stackEnv();
  const tls = certPair('gateway');
  const auth = certPair('auth');
  const say = (line: string) => process.stdout.write(`${line}\n`);

  // auth's JWKS endpoint (mTLS, like the real one): the gateway fetches it once at start.
  const apiKeySeed = randomBytes(32);
  const jwks = createServer(
    { key: auth.key, cert: auth.cert, ca: auth.ca, requestCert: true, rejectUnauthorized: true },
    (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(jwksFromPublicKeys([ed25519PublicKeyOfSeed(apiKeySeed)])));
    },
  );
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  const jwksPort = (jwks.address() as { port: number }).port;

  const config = gatewayConfigSchema.parse({
    PORT: '8443',
    FLOW8_CA_FILE: env.caFile,
    TLS_CERT_FILE: tls.certFile,
    TLS_KEY_FILE: tls.keyFile,
    REDIS_URL: env.redisUrl,
    GATEWAY_JWKS_URL: `https://localhost:${jwksPort}/internal/v1/jwks`,
    GATEWAY_IDENTITY_SIGNING_KEY: randomBytes(32).toString('base64'),
    GATEWAY_OPERATOR_TOKEN: randomBytes(32).toString('base64url'),
    // Limits high enough never to trip, so every request pays the full Redis script.
    GATEWAY_RATE_LIMIT_USER: '1000000000',
    GATEWAY_RATE_LIMIT_IP: '1000000000',
    GATEWAY_RATE_LIMIT_TENANT: '1000000000',
    GATEWAY_RATE_LIMIT_WINDOW: '60s',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  });
  const gw = await createGateway(config, createLogger({ service: 'gateway', level: config.LOG_LEVEL }));
  await gw.start();
  const gwUrl = await gw.app.listen({ host: '127.0.0.1', port: 0 });

  const hello = Fastify({ https: { key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' } });
  hello.get('/hello', async () => ({ hello: 'world' }));
  const helloUrl = await hello.listen({ host: '127.0.0.1', port: 0 });
  // Diagnosis only: the same hello on the flow8 service kit (@flow8/http) the gateway is built on,
  // so the report separates the kit's per-request cost from the gateway's own.
  const kit = buildServiceApp({
    service: 'bench-kit',
    logger: createLogger({ service: 'bench-kit', level: config.LOG_LEVEL }),
    tls: { key: tls.key, cert: tls.cert },
  });
  kit.get('/hello', async () => ({ hello: 'world' }));
  const kitUrl = await kit.listen({ host: '127.0.0.1', port: 0 });

  const now = Math.floor(Date.now() / 1000);
  const token = signEdDsaJwt(
    {},
    {
      iss: 'flow8-auth',
      sub: 'key_01bench0000000000000000000',
      tid: 'ten_01bench0000000000000000000',
      uid: 'usr_01bench0000000000000000000',
      role: 'viewer',
      scopes: ['audit:read'],
      cidrs: [],
      iat: now,
      nbf: now,
      exp: now + 3600,
      jti: randomBytes(16).toString('hex'),
    },
    apiKeySeed,
  );

  try {
    const probe = await fetchOnce(gwUrl, token, tls.ca);
    if (probe !== 200) throw new Error(`gateway answered ${probe} to the bench request`);
    const base = { ca: tls.ca, connections: CONNECTIONS, seconds: SECONDS, maxRequests: MAX_REQUESTS };
    const rates = { hello: [] as number[], gateway: [] as number[], kit: [] as number[] };
    let errors = 0;
    for (let round = 1; round <= ROUNDS; round += 1) {
      const h = await runWorker({ ...base, origin: helloUrl, path: '/hello', headers: {} });
      const g = await runWorker({
        ...base,
        origin: gwUrl,
        path: '/v1/me',
        headers: { authorization: `Bearer ${token}` },
      });
      const k = await runWorker({ ...base, origin: kitUrl, path: '/hello', headers: {} });
      errors += h.bad + g.bad + k.bad;
      rates.kit.push(Math.round(k.ok / (k.ms / 1000)));
      if (g.bad > 0) say(`  round ${round}: gateway non-200 answers ${JSON.stringify(g.statuses)}`);
      rates.hello.push(Math.round(h.ok / (h.ms / 1000)));
      rates.gateway.push(Math.round(g.ok / (g.ms / 1000)));
      say(
        `  round ${round}: fastify-hello ${rates.hello.at(-1)} req/s, gateway GET /v1/me ${rates.gateway.at(-1)} req/s, kit-hello ${rates.kit.at(-1)} req/s`,
      );
    }
    if (errors > 0) throw new Error(`${errors} requests did not answer 200`);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const value = median(rates.gateway);
    const baselineValue = median(rates.hello);
    const ratio = Math.round((value / baselineValue) * 1000) / 1000;
    say(
      `gateway bench: ${CONNECTIONS} keep-alive connections from a second process, ${SECONDS} s per run, ${ROUNDS} rounds (median)`,
    );
    say(`  gateway GET /v1/me (API-key JWT + Redis rate limit/revocation/allowlist + authz): ${value} req/s`);
    say(`  fastify-hello (same TLS cert): ${baselineValue} req/s`);
    const kitValue = median(rates.kit);
    say(
      `  diagnosis — hello on the @flow8/http kit: ${kitValue} req/s (ratio ${(kitValue / baselineValue).toFixed(3)}); the gateway's own work on top of the kit: ${(value / kitValue).toFixed(3)}`,
    );
    say(`  ratio: ${ratio} (target >= 0.5)`);
    say(
      JSON.stringify({
        bench: 'gateway',
        ratio,
        value,
        unit: 'req/s',
        baseline: 'fastify-hello',
        baselineValue,
        route: 'GET /v1/me',
        kitHelloValue: median(rates.kit),
        connections: CONNECTIONS,
        seconds: SECONDS,
        rounds: ROUNDS,
      }),
    );
  } finally {
    await hello.close();
    await kit.close();
    await gw.app.close();
    await gw.stop();
    jwks.close();
  }
}

async function fetchOnce(origin: string, token: string, ca: string): Promise<number> {
  const pool = new Pool(origin, { connect: { ca } });
  try {
    const res = await pool.request({ path: '/v1/me', method: 'GET', headers: { authorization: `Bearer ${token}` } });
    await res.body.dump();
    return res.statusCode;
  } finally {
    await pool.close();
  }
}

if (process.argv.includes('--worker')) {
  const chunks: Buffer[] = [];
  process.stdin.on('data', (c: Buffer) => chunks.push(c));
  process.stdin.on('end', () => {
    worker(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WorkerJob).then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`load worker failed: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exit(1);
      },
    );
  });
} else {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`gateway bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
