// Puts revoked API-key jtis into Redis, where every gateway replica checks them on every request.
//
// Order (docs/identity-and-access.md § Authentication): the revocation and its event commit in
// Postgres first, with revocation_pending = true; then SET flow8:apikey:revoked:<jti> 1 PX <ms
// until exp>; then the flag is cleared. Postgres is the record, Redis the fast copy:
//  - a failed Redis write fails the request (503) and leaves the flag; this loop retries every
//    few seconds until Redis takes it;
//  - at start-up, after every Redis (re)connect and periodically, every revoked, unexpired jti is
//    written again (and whatever else must be mirrored: the companies' IP allowlists) — so a
//    Redis that restarted empty, or lost keys, heals without anyone acting;
//  - a full re-write ends with SECURITY_SYNC_KEY. The gateway refuses API keys and tenant
//    requests while that marker is missing, so the seconds between an empty Redis coming back and
//    this re-write never let a revoked key through. The marker is set only if the token written
//    before the re-write is still there: a Redis that restarted during the re-write (and so may
//    hold only part of it) gets no marker, and the next pass starts over.
import { randomUUID } from 'node:crypto';
import type { Pool } from '@flow8/db';
import { withTenant } from '@flow8/db';
import { periodicJob, SECURITY_SYNC_KEY, SECURITY_SYNC_PENDING_KEY, type Redis } from '@flow8/runtime';
import type { Logger } from '@flow8/telemetry';
import { clearRevocationPending, revocationsToPublish, type Revocation } from './api-keys.repo';
import { revokedJtiKey } from './verify';

export interface RevocationPublisher {
  /** Writes one revocation to Redis and clears its pending flag. Throws if Redis refuses. */
  publish(r: Revocation): Promise<void>;
  /** Writes every pending (or every live) revocation. Never throws; returns what it did. */
  sweep(opts: { pendingOnly: boolean }): Promise<{ published: number; failed: number }>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const SWEEP_BATCH = 10_000;
/**
 * A full re-write reads every live revocation at once (the function has no cursor). Beyond this
 * many the pass cannot vouch for completeness: the marker is not set, the gateway stays closed
 * for API keys, and the log says why.
 */
const FULL_SWEEP_LIMIT = 100_000;

// KEYS: pending token key, sync marker. ARGV: this pass's token.
const SET_SYNCED = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[1])
  return 1
end
return 0
`;

export function createRevocationPublisher(deps: {
  pool: Pool;
  redis: Pick<Redis, 'set' | 'eval' | 'on' | 'off' | 'once' | 'status'>;
  logger: Logger;
  /** Other mirrors a full re-write includes before the sync marker (the allowlists). Throw on failure. */
  alsoMirror?: Array<() => Promise<unknown>>;
  /** How often pending revocations are retried. */
  retryIntervalMs?: number;
  /** How often every live revocation is rewritten (heals a Redis that lost keys without reconnecting). */
  fullSweepIntervalMs?: number;
  now?: () => number;
}): RevocationPublisher {
  const { pool, redis, logger } = deps;
  const retryMs = deps.retryIntervalMs ?? 5_000;
  const fullMs = deps.fullSweepIntervalMs ?? 300_000;
  const now = deps.now ?? Date.now;
  let fullDue = true;
  let lastFull = 0;

  async function writeRedis(r: Revocation): Promise<void> {
    const ttl = r.expiresAt.getTime() - now();
    // An expired token is refused by every verifier on its own; nothing to hold.
    if (ttl > 0) await redis.set(revokedJtiKey(r.jti), '1', 'PX', ttl);
  }

  async function clear(tenantId: string, ids: string[]): Promise<void> {
    await withTenant(pool, tenantId, (tx) => clearRevocationPending(tx, tenantId, ids));
  }

  async function sweep(opts: { pendingOnly: boolean }) {
    let published = 0;
    let failed = 0;
    let rows: Revocation[];
    try {
      rows = await revocationsToPublish(pool, {
        pendingOnly: opts.pendingOnly,
        limit: opts.pendingOnly ? SWEEP_BATCH : FULL_SWEEP_LIMIT,
      });
    } catch (e) {
      logger.warn({ err: e }, 'api-key revocations: cannot read pending revocations');
      return { published, failed: 1 };
    }
    const done = new Map<string, string[]>();
    for (const r of rows) {
      try {
        await writeRedis(r);
        published += 1;
        done.set(r.tenantId, [...(done.get(r.tenantId) ?? []), r.id]);
      } catch (e) {
        failed += 1;
        logger.warn({ err: e, keyId: r.id }, 'api-key revocations: Redis write failed; will retry');
        break; // Redis is down: the rest would fail the same way.
      }
    }
    for (const [tenantId, ids] of done) {
      await clear(tenantId, ids).catch((e: unknown) =>
        logger.warn({ err: e, tenantId }, 'api-key revocations: cannot clear pending flag; will rewrite'),
      );
    }
    if (published > 0 || failed > 0) {
      logger.info({ published, failed, pendingOnly: opts.pendingOnly }, 'api-key revocations published to Redis');
    }
    return { published, failed };
  }

  /** Every revocation and every other mirror, then the sync marker. true when the marker was set. */
  async function fullSync(): Promise<boolean> {
    const token = `${randomUUID()}@${new Date(now()).toISOString()}`;
    try {
      await redis.set(SECURITY_SYNC_PENDING_KEY, token);
    } catch (e) {
      logger.warn({ err: e }, 'security sync: Redis unreachable; will retry');
      return false;
    }
    const r = await sweep({ pendingOnly: false });
    if (r.failed > 0) return false;
    if (r.published >= FULL_SWEEP_LIMIT) {
      logger.error(
        { limit: FULL_SWEEP_LIMIT },
        'security sync: more live API-key revocations than one pass can vouch for; marker not set, gateways refuse API keys',
      );
      return false;
    }
    for (const mirror of deps.alsoMirror ?? []) {
      try {
        await mirror();
      } catch (e) {
        logger.warn({ err: e }, 'security sync: a mirror failed; will retry');
        return false;
      }
    }
    try {
      const set = Number(await redis.eval(SET_SYNCED, 2, SECURITY_SYNC_PENDING_KEY, SECURITY_SYNC_KEY, token));
      if (set !== 1) {
        // Redis restarted during the pass (or another replica started one): go again.
        logger.warn('security sync: Redis changed during the re-write; starting over');
        return false;
      }
    } catch (e) {
      logger.warn({ err: e }, 'security sync: cannot write the sync marker; will retry');
      return false;
    }
    logger.info({ marker: SECURITY_SYNC_KEY }, 'security sync: revocations and allowlists re-written to Redis');
    return true;
  }

  // Every replica, not leader-only: each writes what Postgres records (idempotent SETs, the same
  // values) and each reacts to its own Redis connection coming back — a replica that sees Redis
  // restart empty must heal it at once, not wait for a leader whose client may not have noticed.
  // The sync marker's token makes concurrent full passes safe (a pass another one overtook sets
  // no marker and starts over).
  const job = periodicJob({
    name: 'auth.api-key-revocations',
    everyMs: retryMs,
    runAtStart: false,
    jitter: 0,
    logger,
    async run() {
      const full = fullDue || now() - lastFull >= fullMs;
      if (full) {
        // A reconnect during this pass sets fullDue again: that one must run too.
        fullDue = false;
        if (await fullSync()) lastFull = now();
        else fullDue = true;
      } else {
        await sweep({ pendingOnly: true });
      }
    },
  });

  // A reconnect may be to a Redis that restarted empty: rewrite everything now (the gateway
  // answers 503 to API keys and tenant requests until the marker is back). runNow waits for a
  // pass in progress and then runs a full one.
  const onReady = () => {
    fullDue = true;
    void job.runNow();
  };

  return {
    async publish(r) {
      await writeRedis(r);
      await clear(r.tenantId, [r.id]).catch((e: unknown) =>
        logger.warn({ err: e, keyId: r.id }, 'api-key revocations: cannot clear pending flag; will rewrite'),
      );
    },
    sweep,
    async start() {
      fullDue = true;
      // Give a fresh client a moment to connect, so start-up republishes at once; if Redis is
      // down, the loop (and the reconnect) does it later. Start-up never blocks on Redis.
      if (redis.status !== 'ready') {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 3_000);
          t.unref();
          redis.once('ready', () => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      // From here on a reconnect re-writes at once (while this first pass runs, it marks the
      // next pass as full).
      redis.on('ready', onReady);
      await job.runNow();
      job.start();
    },
    async stop() {
      redis.off('ready', onReady);
      await job.stop();
    },
  };
}
