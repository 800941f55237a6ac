// The load generator of the HTTP benches, run as its own process (`tsx scripts/bench/lib/load-worker.ts`):
// reads one job as JSON on stdin, prints `{"started":true}` once loaded, then one result line.
// It imports nothing but undici, so it starts in a moment even on a loaded machine (it used to be
// the bench file itself, whose imports load every service: at load average 20+ that took longer
// than the parent's kill timer).
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

export interface WorkerJob {
  origin: string;
  path: string;
  headers: Record<string, string>;
  ca: string;
  connections: number;
  seconds: number;
  maxRequests: number;
}
export interface WorkerResult {
  ok: number;
  bad: number;
  ms: number;
  statuses: Record<string, number>;
  /** Requests answered during the warm-up. */
  warm: number;
  /** The slowest request of the timed part. */
  slowestMs: number;
}

export async function worker(job: WorkerJob): Promise<void> {
  const pool = new Pool(job.origin, { connections: job.connections, connect: { ca: job.ca } });
  let slowest = 0;
  const hit = async () => {
    const t = performance.now();
    const res = await pool.request({ path: job.path, method: 'GET', headers: job.headers });
    await res.body.dump();
    slowest = Math.max(slowest, performance.now() - t);
    return res.statusCode;
  };
  // A request that fails on the wire (reset, closed) is counted by its code, not fatal: the
  // report says what happened instead of a worker dying mid-round.
  const statuses: Record<string, number> = {};
  const attempt = async (): Promise<number | string> => {
    try {
      return await hit();
    } catch (e) {
      return String((e as { code?: unknown }).code ?? (e as Error).name);
    }
  };
  // Warm-up: TLS handshakes and JIT, not counted in the rate (reported, for CPU per request).
  const warmEnd = Date.now() + 1000;
  let warm = 0;
  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      while (Date.now() < warmEnd) {
        const s = await attempt();
        if (s !== 200) statuses[`warm-up ${s}`] = (statuses[`warm-up ${s}`] ?? 0) + 1;
        warm += 1;
      }
    }),
  );
  let ok = 0;
  let bad = 0;
  slowest = 0;
  const t0 = performance.now();
  const end = Date.now() + job.seconds * 1000;
  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      while (Date.now() < end && ok + bad < job.maxRequests) {
        const s = await attempt();
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
  process.stdout.write(JSON.stringify({ ok, bad, ms, statuses, warm, slowestMs: Math.round(slowest) }) + '\n');
}

// Only ever run as a process (the benches import its types alone).
{
  process.stdout.write('{"started":true}\n');
  const chunks: Buffer[] = [];
  process.stdin.on('data', (c: Buffer) => chunks.push(c));
  process.stdin.on('end', () => {
    worker(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WorkerJob).then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`load worker failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exit(1);
      },
    );
  });
}
