// Fault injection on the real stack, for the `fault` test project only: those suites run
// serially after every other suite, because stopping the shared broker would break them.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { createKafka } from '@flow8/bus';
import { certPair, repoRoot, stackEnv } from './stack';
import { eventually } from './wait';

const run = promisify(execFile);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops the process whose pid is on the first line of a file of this stack's state dir (never a
 * process found by name: other stacks run on the same machine) and waits until it is gone.
 */
async function stopByPidFile(what: string, pidFile: string, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]!.trim());
  if (!pid || !alive(pid)) throw new Error(`no running ${what} in ${pidFile}`);
  process.kill(pid, signal);
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stops the local Kafka broker (SIGTERM, controlled shutdown) and waits until it is gone. */
export async function stopKafka(timeoutMs = 60_000): Promise<void> {
  await stopByPidFile('Kafka broker', join(stackEnv().stateDir, 'kafka', 'kafka.pid'), 'SIGTERM', timeoutMs);
}

/** Stops the local Redis (SIGTERM). It keeps nothing on disk: restarted, it is empty. */
export async function stopRedis(timeoutMs = 30_000): Promise<void> {
  await stopByPidFile('Redis', join(stackEnv().stateDir, 'redis', 'redis.pid'), 'SIGTERM', timeoutMs);
}

/** Stops the local PostgreSQL (SIGINT: fast shutdown, open connections are terminated). */
export async function stopPostgres(timeoutMs = 60_000): Promise<void> {
  await stopByPidFile('PostgreSQL', join(stackEnv().stateDir, 'pg', 'data', 'postmaster.pid'), 'SIGINT', timeoutMs);
}

/** Starts whatever part of the stack is down again (the launcher is idempotent). */
export async function restartStack(): Promise<void> {
  const root = repoRoot();
  await run('bash', [join(root, 'scripts/stack/up.sh'), '--quiet'], {
    cwd: root,
    env: { ...process.env, FLOW8_STATE_DIR: stackEnv().stateDir },
    timeout: 180_000,
  });
}

/** true once the stack's Redis answers PING over TLS (one short attempt). */
export async function redisAnswers(): Promise<boolean> {
  const env = stackEnv();
  const r = new Redis(env.redisUrl, {
    tls: { ca: readFileSync(env.caFile, 'utf8'), servername: 'localhost' },
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/**
 * true once the stack's Kafka broker answers a metadata request over mTLS (one short attempt);
 * with a group id, once that group's coordinator has also loaded its state and answers.
 */
export async function kafkaAnswers(groupId?: string): Promise<boolean> {
  // Describing a service's consumer group needs more than the test principal has: the probe
  // uses the admin certificate (the broker's ACLs allow the testkit only its own groups).
  const { ca, cert, key } = certPair(groupId ? 'kafka-admin' : 'testkit');
  const admin = createKafka({
    brokers: stackEnv().kafkaBrokers,
    clientId: 'fault-probe',
    tls: { ca, cert, key },
    retries: 0,
    connectionTimeoutMs: 1000,
    requestTimeoutMs: 2000,
  }).admin();
  try {
    await admin.connect();
    if ((await admin.describeCluster()).brokers.length === 0) return false;
    if (groupId) await admin.describeGroups([groupId]);
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Starts whatever is down again and answers at the moment `isBack` first says so — the launcher
 * goes on checking the rest of the stack after that, so timings count from `back`, not from
 * when it returns. Await `done` before the next fault.
 */
export async function restartAndWait(isBack: () => Promise<boolean>): Promise<{ back: number; done: Promise<void> }> {
  const done = restartStack();
  done.catch(() => undefined);
  const back = await eventually(async () => (await isBack()) && Date.now(), {
    what: 'the restarted component to answer',
    intervalMs: 50,
    timeoutMs: 120_000,
  });
  return { back, done };
}

export interface ServiceProcess {
  child: ChildProcess;
  /** SIGKILL (a crash: no shutdown hook, no LeaveGroup) and wait until it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful shutdown) and wait until it is gone. */
  stop(): Promise<void>;
  /** What it wrote to stderr (a start that fails says why here). */
  stderr(): string;
}

/**
 * Runs a service's main.ts as its own process: node itself with tsx's loader (not the tsx
 * wrapper, which would leave its child running when killed), so SIGKILL hits the process that
 * does the work.
 */
export function spawnService(mainTs: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot(), mainTs)], {
    cwd: repoRoot(),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (err.length < 64_000) err += d.toString('utf8');
  });
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(sig);
    await exited;
  };
  return {
    child,
    stderr: () => err,
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
  };
}

export interface RestartTimings {
  /** Spawn → /readyz 200, first start (topics created, nothing to resume). */
  cleanStartMs: number;
  /** SIGTERM'd (it left its consumer group) → a new process ready: the baseline. */
  gracefulRestartMs: number;
  /** SIGKILL'd (its group member left behind in the broker) → a new process ready. */
  crashRestartMs: number;
  /** SIGKILL → the new process has done `work` (its consumer owns partitions again). */
  crashWorkingMs: number;
}

/**
 * Starts a service process, restarts it gracefully, then kills it and starts it again at once
 * (a crashed pod replaced), timing each way to ready. `work` gives the running process something
 * its consumer must do and waits until it is done, so each process is a group member with
 * partitions when it goes away. The process is killed at the end, also on failure.
 */
export async function measureRestarts(opts: {
  spawn: () => ServiceProcess;
  ready: () => Promise<boolean>;
  work: () => Promise<void>;
}): Promise<RestartTimings> {
  let proc: ServiceProcess | null = null;
  const start = async (): Promise<number> => {
    const t0 = Date.now();
    proc = opts.spawn();
    const p = proc;
    await eventually(async () => (p.child.exitCode === null ? opts.ready() : Promise.reject(new Error(p.stderr()))), {
      what: 'the service ready',
      timeoutMs: 90_000,
      intervalMs: 100,
    });
    return Date.now() - t0;
  };
  try {
    const cleanStartMs = await start();
    await opts.work();
    await proc!.stop();
    const gracefulRestartMs = await start();
    await opts.work();
    await proc!.kill();
    const killedAt = Date.now();
    const crashRestartMs = await start();
    await opts.work();
    const crashWorkingMs = Date.now() - killedAt;
    return { cleanStartMs, gracefulRestartMs, crashRestartMs, crashWorkingMs };
  } finally {
    await (proc as ServiceProcess | null)?.kill();
  }
}
