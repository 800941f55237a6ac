// Benchmark: the credential vault's resolve path against a same-work floor, a raw libsodium open of
// the same ciphertexts, and the cost of a root-key rotation.
//
//   1. resolve — C credentials over T companies are created through the real service (started
//      in-process like the integration tests, from the @flow8/credential-vault package); then N
//      resolves are sent over mTLS as the flow engine (keep-alive connections, K in flight). Each
//      resolve is the whole product path: mTLS, the flow engine's signed service call (signed and
//      verified per call), schema, RLS transaction, the principal's role and grants from the
//      replicated copy, scope/revocation checks, data-key unwrap (cached), AEAD open, the
//      credential.used event into the outbox, commit. Also reported: latency p50/p99 and this
//      process's CPU per resolve (the vault and the bench's client share it).
//      floor   — the same physical work with nothing else: a bare Fastify mTLS route on the same
//      database, role and pool size that reads one row (credential ⋈ current version ⋈ wrapped
//      data key), opens it with libsodium and inserts one outbox row, in one transaction. Resolve
//      and floor alternate in R rounds (--rounds) from the same client.
//   ratio = resolves/s ÷ floor calls/s. Target ≥ 0.5.
//   2. open    — the very ciphertexts those resolves opened (read from the database), opened N
//      times with @flow8/crypto's open() and the unwrapped data keys: the crypto floor
//      (ratio_vs_open = resolves/s ÷ opens/s, the old figure).
//   3. rewrap  — D data keys wrapped under a root key are re-wrapped under a new one by the real
//      rotateRootKey() (the `rotate-root-key` command's code): data keys re-wrapped per second.
//
// Usage: tsx scripts/bench/vault.ts [--resolves N] [--credentials C] [--tenants T] [--concurrency K]
//                                   [--rounds R] [--data-keys D]
//        (or `bash scripts/bench/run.sh vault`, which sources the stack env first)
// The last line of stdout is one JSON object (see docs/benchmarks.md).
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:https';
import { performance } from 'node:perf_hooks';
import Fastify from 'fastify';
import { createOutbox } from '@flow8/bus';
import { buildEvent, newId, topicForEvent } from '@flow8/contracts';
import { createPool, withTenant } from '@flow8/db';
import { INTERNAL_IDENTITY_HEADER } from '@flow8/http';
import {
  associatedData,
  generateKey,
  generateKeyId,
  keyFingerprint,
  open,
  ready,
  rootKeyLookup,
  toHex,
  unwrapKey,
  wrapKey,
} from '@flow8/crypto';
import { certPair, freshDatabase, stackEnv } from '@flow8/testkit';
import { createKeyring, rotateRootKey } from '@flow8/credential-vault';
import { designer, newTenant, startVault, VAULT_MIGRATIONS } from '@flow8/credential-vault/testing';

function intArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer`);
  return v;
}

const RESOLVES = intArg('resolves', 10_000);
const CREDENTIALS = intArg('credentials', 200);
const TENANTS = Math.min(intArg('tenants', 20), CREDENTIALS);
const CONCURRENCY = intArg('concurrency', 32);
const DATA_KEYS = intArg('data-keys', 5_000);
const ROUNDS = intArg('rounds', 3);

const say = (line: string) => process.stdout.write(`${line}\n`);
const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));

/**
 * The resolve's same-work floor: a bare Fastify HTTPS route that asks for the caller's certificate
 * (mTLS, our CA, the vault's certificate) and, in one transaction on the vault's database with the
 * vault's runtime role and pool size, reads the credential's current sealed secret and wrapped data
 * key (one row, a named statement), opens it with libsodium (data keys unwrapped once and kept, as
 * the vault's keyring does) and inserts one outbox row (the vault's named insert, a
 * `vault.credential.used` envelope on the vault's topic); it answers the secret as JSON. No
 * identity, no principal, no grants, no schema, no checks: the physical work a resolve cannot skip.
 */
async function startFloor(v: {
  db: { appUrl: string };
  config: { ENCRYPTION_KEY: Uint8Array };
  prefix: string;
}): Promise<{ url: string; close: () => Promise<void> }> {
  const env = stackEnv();
  const tls = certPair('credential-vault');
  const pool = createPool({ url: v.db.appUrl, caFile: env.caFile, max: 10, applicationName: 'bench-floor' });
  const root = rootKeyLookup([v.config.ENCRYPTION_KEY]);
  const dataKeys = new Map<string, Uint8Array>();
  const topic = topicForEvent('vault.credential.used', v.prefix);
  const READ = {
    name: 'bench.floor.read',
    text: `SELECT c.integration, v.version, v.ciphertext, v.data_key_id, d.wrapped FROM credentials c
             JOIN credential_versions v ON v.credential_id = c.id AND v.version = c.current_version AND v.status = 'current'
             JOIN data_keys d ON d.id = v.data_key_id AND d.tenant_id = c.tenant_id
            WHERE c.tenant_id = $1 AND c.id = $2`,
  };
  const INSERT = {
    name: 'bench.floor.outbox',
    text: 'INSERT INTO outbox (event_id, tenant_id, event_type, topic, value, headers) VALUES ($1, $2, $3, $4, $5, $6)',
  };
  type Row = { integration: string; version: number; ciphertext: Buffer; data_key_id: string; wrapped: Buffer };
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
  app.post('/internal/v1/credentials/:id/resolve', async (req, reply) => {
    const tenantId = String(req.headers['x-tenant-id']);
    const id = (req.params as { id: string }).id;
    const input = req.body as { flowId: string; executionId: string; stepId: string; purpose: string };
    const answer = await withTenant(pool, tenantId, async (tx) => {
      const { rows } = await tx.query<Row>({ ...READ, values: [tenantId, id] });
      const r = rows[0];
      if (!r) return null;
      let key = dataKeys.get(r.data_key_id);
      if (!key) {
        key = unwrapKey({
          rootKeys: root,
          wrapped: new Uint8Array(r.wrapped),
          dataKeyId: r.data_key_id,
          tenantId,
          purpose: 'tenant',
        });
        dataKeys.set(r.data_key_id, key);
      }
      const k = key;
      const secret = open({
        sealed: new Uint8Array(r.ciphertext),
        ad: associatedData({ tenantId, recordId: id, version: r.version, field: 'secret' }),
        keys: (kid) => (kid === r.data_key_id ? k : undefined),
      });
      const event = buildEvent({
        type: 'vault.credential.used',
        tenantId,
        actor: { type: 'service', id: 'flow-engine', ip: null },
        resource: { type: 'credential', id },
        purpose: input.purpose,
        payload: {
          credentialId: id,
          version: r.version,
          integration: r.integration,
          flowId: input.flowId,
          executionId: input.executionId,
          stepId: input.stepId,
        },
      } as Parameters<typeof buildEvent<'vault.credential.used'>>[0]);
      await tx.query({
        ...INSERT,
        values: [
          event.id,
          tenantId,
          event.type,
          topic,
          Buffer.from(JSON.stringify(event)),
          { 'content-type': 'application/json', 'flow8-event-type': event.type, 'flow8-event-id': event.id },
        ],
      });
      return {
        credentialId: id,
        version: r.version,
        integration: r.integration,
        secret: Buffer.from(secret).toString('utf8'),
      };
    });
    if (!answer) return reply.code(404).send({ error: { code: 'NOT_FOUND' } });
    return answer;
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

async function main(): Promise<void> {
  await ready();
  const v = await startVault({ overrides: { LOG_LEVEL: 'error' } });
  const rewrapDb = await freshDatabase('VAULT', VAULT_MIGRATIONS);
  try {
    // ---- setup: credentials through the real API
    const creds: Array<{ id: string; tenantId: string }> = [];
    const tenants = Array.from({ length: TENANTS }, () => newTenant());
    for (let i = 0; i < CREDENTIALS; i += 1) {
      const tenantId = tenants[i % TENANTS]!;
      const res = await v.call('POST', '/v1/credentials', {
        principal: designer(tenantId),
        body: {
          integration: 'quickbooks',
          name: `QB ${i}`,
          kind: 'api_key',
          scopes: ['invoices:read'],
          secret: randomBytes(24).toString('base64'),
        },
      });
      if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.body}`);
      creds.push({ id: res.json<{ id: string }>().id, tenantId });
    }
    say(
      `vault bench: ${CREDENTIALS} credentials over ${TENANTS} companies; ${RESOLVES} resolves, ${CONCURRENCY} in flight`,
    );

    // ---- 1. resolve over mTLS as the flow engine, each call signed with its identity key and
    // acting for a real Executor of the company (in the vault's copy of the identity topic)
    const executors = new Map<string, { type: 'user'; id: string }>();
    for (const tenantId of tenants)
      executors.set(tenantId, (await v.executorOf(tenantId)) as { type: 'user'; id: string });
    const fe = certPair('flow-engine');
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: fe.ca, cert: fe.cert, key: fe.key });
    const floor = await startFloor(v);
    const body = JSON.stringify({
      flowId: 'flw_bench',
      executionId: 'exe_bench',
      stepId: 'step-1',
      scope: 'invoices:read',
      purpose: 'benchmark',
    });
    let latencies: number[] = [];
    const post = (origin: URL, c: { id: string; tenantId: string }, headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const started = performance.now();
        const req = request(
          {
            host: origin.hostname,
            port: origin.port,
            path: `/internal/v1/credentials/${c.id}/resolve`,
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              latencies.push(performance.now() - started);
              resolve(res.statusCode ?? 0);
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const vaultUrl = new URL(v.url);
    const floorUrl = new URL(floor.url);
    const resolveOnce = (c: { id: string; tenantId: string }) =>
      post(vaultUrl, c, {
        [INTERNAL_IDENTITY_HEADER]: v.services['flow-engine'].sign(
          { tenantId: c.tenantId, actingFor: executors.get(c.tenantId)! },
          'credential-vault',
        ),
      });
    const floorOnce = (c: { id: string; tenantId: string }) => post(floorUrl, c, { 'x-tenant-id': c.tenantId });
    /** n calls with CONCURRENCY in flight; the time, CPU of this process and latencies they took. */
    const drive = async (n: number, once: (c: { id: string; tenantId: string }) => Promise<number>) => {
      latencies = [];
      let next = 0;
      let failed = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          for (let i = next++; i < n; i = next++) {
            if ((await once(creds[i % creds.length]!)) !== 200) failed += 1;
          }
        }),
      );
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      if (failed > 0) throw new Error(`${failed} of ${n} calls failed`);
      return { ms, cpuUs: cpu.user + cpu.system, latencies };
    };
    // warm-up: connections, data-key caches, prepared statements, JIT — both paths
    await drive(Math.max(CONCURRENCY * 4, 200), resolveOnce);
    await drive(Math.max(CONCURRENCY * 4, 200), floorOnce);
    // Rounds alternate the real path and its floor, so both see the same moments of a shared box.
    const perRound = Math.ceil(RESOLVES / ROUNDS);
    const real = { ms: 0, cpuUs: 0, latencies: [] as number[] };
    const flo = { ms: 0, cpuUs: 0, latencies: [] as number[] };
    for (let round = 1; round <= ROUNDS; round += 1) {
      const a = await drive(perRound, resolveOnce);
      const b = await drive(perRound, floorOnce);
      for (const [acc, r] of [
        [real, a],
        [flo, b],
      ] as const) {
        acc.ms += r.ms;
        acc.cpuUs += r.cpuUs;
        acc.latencies.push(...r.latencies);
      }
      say(`  round ${round}: resolve ${rate(perRound, a.ms)}/s, same-work floor ${rate(perRound, b.ms)}/s`);
    }
    agent.destroy();
    await floor.close();
    const total = perRound * ROUNDS;
    const resolveRate = rate(total, real.ms);
    const floorRate = rate(total, flo.ms);
    const pct = (xs: number[], q: number) => {
      const sorted = [...xs].sort((x, y) => x - y);
      return Number(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!.toFixed(1));
    };
    // CPU of this process (the vault AND the bench's HTTPS client: both sides of the mTLS) per resolve.
    const cpuMsPerResolve = Number((real.cpuUs / 1000 / total).toFixed(3));
    const floorCpuMs = Number((flo.cpuUs / 1000 / total).toFixed(3));
    say(`  resolve: ${total} in ${(real.ms / 1000).toFixed(2)} s = ${resolveRate} resolves/s (mTLS, keep-alive)`);
    say(
      `           latency p50 ${pct(real.latencies, 0.5)} ms, p99 ${pct(real.latencies, 0.99)} ms; ${cpuMsPerResolve} ms CPU per resolve in this process (vault + client)`,
    );
    say(
      `  floor:   ${total} in ${(flo.ms / 1000).toFixed(2)} s = ${floorRate}/s (bare mTLS route: one row read, libsodium open, one outbox row, one transaction)`,
    );
    say(
      `           latency p50 ${pct(flo.latencies, 0.5)} ms, p99 ${pct(flo.latencies, 0.99)} ms; ${floorCpuMs} ms CPU per call in this process`,
    );
    const ratio = Number((resolveRate / floorRate).toFixed(3));
    say(`  ratio: ${ratio} (resolve ÷ same-work floor, target >= 0.5)`);

    // ---- 2. raw libsodium open of the same ciphertexts
    const { rows } = await v.db.admin.query<{
      credential_id: string;
      tenant_id: string;
      version: number;
      ciphertext: Buffer;
      data_key_id: string;
      wrapped: Buffer;
    }>(
      `SELECT v.credential_id, v.tenant_id, v.version, v.ciphertext, v.data_key_id, d.wrapped
         FROM credential_versions v JOIN data_keys d ON d.id = v.data_key_id WHERE v.status = 'current'`,
    );
    const root = rootKeyLookup([v.config.ENCRYPTION_KEY]);
    const items = rows.map((r) => {
      const key = unwrapKey({
        rootKeys: root,
        wrapped: new Uint8Array(r.wrapped),
        dataKeyId: r.data_key_id,
        tenantId: r.tenant_id,
        purpose: 'tenant',
      });
      return {
        sealed: new Uint8Array(r.ciphertext),
        ad: associatedData({ tenantId: r.tenant_id, recordId: r.credential_id, version: r.version, field: 'secret' }),
        keys: (id: string) => (id === r.data_key_id ? key : undefined),
      };
    });
    const t1 = performance.now();
    let bytes = 0;
    for (let i = 0; i < total; i += 1) bytes += open(items[i % items.length]!).byteLength;
    const openMs = performance.now() - t1;
    const openRate = rate(total, openMs);
    say(`  open:    ${total} in ${(openMs / 1000).toFixed(3)} s = ${openRate} opens/s (${bytes} plaintext bytes)`);
    const ratioVsOpen = Number((resolveRate / openRate).toFixed(5));
    say(`  resolve ÷ raw open: ${ratioVsOpen} (no network, no database, no audit write in the open)`);

    // ---- 3. root-key rotation: re-wrap D data keys
    const k1 = generateKey();
    const k2 = generateKey();
    const fp1 = keyFingerprint(k1);
    await rewrapDb.owner.query('INSERT INTO root_keys (fingerprint, created_by) VALUES ($1, $2)', [fp1, 'bench']);
    const CHUNK = 1000;
    for (let i = 0; i < DATA_KEYS; i += CHUNK) {
      const n = Math.min(CHUNK, DATA_KEYS - i);
      const ids: string[] = [];
      const tids: string[] = [];
      const wrapped: Buffer[] = [];
      for (let j = 0; j < n; j += 1) {
        const id = toHex(generateKeyId());
        const tenantId = newId('ten');
        ids.push(id);
        tids.push(tenantId);
        wrapped.push(
          Buffer.from(wrapKey({ rootKey: k1, dataKey: generateKey(), dataKeyId: id, tenantId, purpose: 'tenant' })),
        );
      }
      // Setup only, as the superuser (RLS binds the runtime role): the keys a fleet of companies would have.
      await rewrapDb.admin.query(
        `INSERT INTO data_keys (id, tenant_id, version, status, root_fingerprint, wrapped, created_by)
         SELECT id, tid, 1, 'active', $4, w, 'bench' FROM unnest($1::text[], $2::text[], $3::bytea[]) AS u(id, tid, w)`,
        [ids, tids, wrapped, fp1],
      );
    }
    const keyring = createKeyring({ pool: rewrapDb.app, current: k2, previous: k1, cacheTtlMs: 0 });
    const r = await rotateRootKey({
      pool: rewrapDb.app,
      keyring,
      outbox: createOutbox({ topicPrefix: 'bench.' }),
      actor: { type: 'operator', id: 'operator:bench', ip: null },
    });
    if (r.rewrapped !== DATA_KEYS) throw new Error(`re-wrapped ${r.rewrapped} of ${DATA_KEYS}`);
    const rewrapPerSecond = rate(r.rewrapped, r.ms);
    say(
      `  root-key rotation: ${r.rewrapped} data keys re-wrapped (each with its audit event) in ${(r.ms / 1000).toFixed(2)} s = ${rewrapPerSecond} keys/s`,
    );
    say(
      JSON.stringify({
        bench: 'vault',
        ratio,
        value: resolveRate,
        unit: 'resolves/s',
        baseline: 'same-work-floor',
        baselineValue: floorRate,
        ratio_vs_open: ratioVsOpen,
        openValue: openRate,
        resolves: total,
        rounds: ROUNDS,
        concurrency: CONCURRENCY,
        p50Ms: pct(real.latencies, 0.5),
        p99Ms: pct(real.latencies, 0.99),
        cpuMsPerResolve,
        floorP50Ms: pct(flo.latencies, 0.5),
        floorCpuMsPerCall: floorCpuMs,
        rewrapPerSecond,
        dataKeys: DATA_KEYS,
      }),
    );
  } finally {
    await v.stop().catch(() => undefined);
    await Promise.allSettled([v.db.drop(), rewrapDb.drop()]);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`vault bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
