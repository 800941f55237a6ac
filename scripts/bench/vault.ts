// Benchmark: the credential vault's resolve path against a raw libsodium open of the same
// ciphertexts, and the cost of a root-key rotation.
//
//   1. resolve — C credentials over T companies are created through the real service (started
//      in-process like the integration tests); then N resolves are sent over mTLS as the flow
//      engine (keep-alive connections, K in flight). Each resolve is the whole product path:
//      mTLS, the flow engine's signed service call (signed and verified per call), schema, RLS
//      transaction, the principal's role and grants from the replicated copy, scope/revocation
//      checks, data-key unwrap (cached), AEAD
//      open, the credential.used event into the outbox, commit. Also reported: latency p50/p99
//      and this process's CPU per resolve (the vault and the bench's client share it).
//   2. open    — the very ciphertexts those resolves opened (read from the database), opened N
//      times with @flow8/crypto's open() and the unwrapped data keys: the crypto floor.
//   ratio = resolves/s ÷ opens/s.
//   3. rewrap  — D data keys wrapped under a root key are re-wrapped under a new one by the real
//      rotateRootKey() (the `rotate-root-key` command's code): data keys re-wrapped per second.
//
// Usage: tsx scripts/bench/vault.ts [--resolves N] [--credentials C] [--tenants T] [--concurrency K] [--data-keys D]
//        (or `bash scripts/bench/run.sh vault`, which sources the stack env first)
// The last line of stdout is one JSON object (see docs/benchmarks.md).
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:https';
import { performance } from 'node:perf_hooks';
import { createOutbox } from '../../packages/bus/src/index';
import { newId } from '../../packages/contracts/src/index';
import { INTERNAL_IDENTITY_HEADER } from '../../packages/http/src/index';
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
} from '../../packages/crypto/src/index';
import { certPair, freshDatabase } from '../../packages/testkit/src/index';
import { rotateRootKey } from '../../services/credential-vault/src/features/keys/keys.service';
import { createKeyring } from '../../services/credential-vault/src/keyring/keyring';
import { designer, newTenant, startVault, VAULT_MIGRATIONS } from '../../services/credential-vault/test/harness';

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

const say = (line: string) => process.stdout.write(`${line}\n`);
const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));

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
    const url = new URL(v.url);
    const latencies: number[] = [];
    const resolveOnce = (c: { id: string; tenantId: string }) =>
      new Promise<number>((resolve, reject) => {
        const started = performance.now();
        const body = JSON.stringify({
          flowId: 'flw_bench',
          executionId: 'exe_bench',
          stepId: 'step-1',
          scope: 'invoices:read',
          purpose: 'benchmark',
        });
        const identity = v.services['flow-engine'].sign(
          { tenantId: c.tenantId, actingFor: executors.get(c.tenantId)! },
          'credential-vault',
        );
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            path: `/internal/v1/credentials/${c.id}/resolve`,
            method: 'POST',
            agent,
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              [INTERNAL_IDENTITY_HEADER]: identity,
            },
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
    // warm-up: connections, data-key cache, JIT
    await Promise.all(creds.slice(0, Math.min(CONCURRENCY, creds.length)).map(resolveOnce));
    latencies.length = 0;
    let next = 0;
    let failed = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < RESOLVES; i = next++) {
          if ((await resolveOnce(creds[i % creds.length]!)) !== 200) failed += 1;
        }
      }),
    );
    const resolveMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    agent.destroy();
    if (failed > 0) throw new Error(`${failed} resolves failed`);
    const resolveRate = rate(RESOLVES, resolveMs);
    latencies.sort((a, b) => a - b);
    const pct = (q: number) =>
      Number(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))]!.toFixed(1));
    // CPU of this process (the vault AND the bench's HTTPS client: both sides of the mTLS) per resolve.
    const cpuMsPerResolve = Number(((cpu.user + cpu.system) / 1000 / RESOLVES).toFixed(3));
    say(`  resolve: ${RESOLVES} in ${(resolveMs / 1000).toFixed(2)} s = ${resolveRate} resolves/s (mTLS, keep-alive)`);
    say(
      `           latency p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms; ${cpuMsPerResolve} ms CPU per resolve in this process (vault + client)`,
    );

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
    for (let i = 0; i < RESOLVES; i += 1) bytes += open(items[i % items.length]!).byteLength;
    const openMs = performance.now() - t1;
    const openRate = rate(RESOLVES, openMs);
    say(`  open:    ${RESOLVES} in ${(openMs / 1000).toFixed(3)} s = ${openRate} opens/s (${bytes} plaintext bytes)`);
    const ratio = Number((resolveRate / openRate).toFixed(5));
    say(`  ratio: ${ratio} (resolve ÷ raw open: the price of mTLS, Postgres, checks and the audit event)`);

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
        baseline: 'libsodium-open',
        baselineValue: openRate,
        resolves: RESOLVES,
        concurrency: CONCURRENCY,
        p50Ms: pct(0.5),
        p99Ms: pct(0.99),
        cpuMsPerResolve,
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
