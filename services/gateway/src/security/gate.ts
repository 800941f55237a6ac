// One Redis round trip per request: the fixed-window counters of every applicable rate limit
// (INCR, PEXPIRE on the first hit, PTTL), and — when needed — whether the API key was revoked
// and the tenant's IP allowlist. Redis is shared by every replica, so they all agree.
//
// Redis unreachable (docs/identity-and-access.md): rate limiting falls back to a per-replica
// in-memory limiter (availability); revocation and allowlist answers are `unavailable`, which
// the caller turns into 503 — a security control never silently turns off.
//
// Redis restarted empty: revocations and allowlists are answered only while auth's sync marker
// (SECURITY_SYNC_KEY) is present in the same Redis, read in the same script. Without it an empty
// Redis would say "not revoked, no allowlist"; instead the answers are `unavailable` (503) until
// auth has re-written everything and set the marker again.
import { SECURITY_SYNC_KEY, type Redis } from '@flow8/runtime';
import type { Logger } from '@flow8/telemetry';

export interface Limits {
  user: number;
  ip: number;
  tenant: number;
  windowMs: number;
}

export interface Counter {
  kind: 'user' | 'ip' | 'tenant';
  id: string;
}

export interface RateOutcome {
  /** The tightest applicable limit: the one with the fewest requests left. */
  limit: number;
  remaining: number;
  /** Seconds until that limit's window ends. */
  resetSeconds: number;
  /** Set when any limit is exceeded: seconds until the last exceeded window ends. */
  retryAfterSeconds: number | null;
  exceeded: Counter['kind'] | null;
}

export interface GateOutcome {
  rate: RateOutcome;
  /** `unavailable`: Redis could not answer, or holds no sync marker (restarted, not yet re-written). */
  revoked: boolean | 'unavailable' | null;
  /** The raw JSON list, null when there is none, `unavailable` as for `revoked`. */
  allowlist: string | null | 'unavailable';
  source: 'redis' | 'memory';
}

export const REVOKED_PREFIX = 'flow8:apikey:revoked:';
export const allowlistKey = (tenantId: string) => `flow8:tenant:${tenantId}:allowlist`;
// The window length is part of the key: replicas configured with another window (during a
// rolling change, or a second installation on the same Redis) count separately instead of
// inheriting each other's expiry.
const counterPrefix = (windowMs: number) => `flow8:rl:${windowMs}:`;

// KEYS: counters…, then — when a revocation or allowlist is asked for — the sync marker, then
// the revocation key and the allowlist key when asked for.
// ARGV: window ms, number of counters, 1/0 revocation, 1/0 allowlist.
// Reply: count and ttl per counter, marker present (1/0, -1 when not asked), revoked (1/0, -1),
// the allowlist ('' when none or not asked).
const SCRIPT = `
local window = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local out = {}
for i = 1, n do
  local c = redis.call('INCR', KEYS[i])
  local ttl = window
  if c == 1 then
    redis.call('PEXPIRE', KEYS[i], window)
  else
    ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('PEXPIRE', KEYS[i], window)
      ttl = window
    end
  end
  out[#out + 1] = c
  out[#out + 1] = ttl
end
local k = n
if ARGV[3] == '1' or ARGV[4] == '1' then
  k = k + 1
  out[#out + 1] = redis.call('EXISTS', KEYS[k])
else
  out[#out + 1] = -1
end
if ARGV[3] == '1' then
  k = k + 1
  out[#out + 1] = redis.call('EXISTS', KEYS[k])
else
  out[#out + 1] = -1
end
if ARGV[4] == '1' then
  k = k + 1
  local v = redis.call('GET', KEYS[k])
  if v then out[#out + 1] = v else out[#out + 1] = '' end
else
  out[#out + 1] = ''
end
return out
`;

type GateCommand = (...args: Array<string | number>) => Promise<Array<number | string>>;

export function summarise(
  limits: Limits,
  counters: Counter[],
  counts: Array<{ count: number; ttlMs: number }>,
): RateOutcome {
  // The tightest limit starts as "nothing counted": the IP limit, untouched.
  const out: RateOutcome = {
    limit: limits.ip,
    remaining: limits.ip,
    resetSeconds: 1,
    retryAfterSeconds: null,
    exceeded: null,
  };
  let found = false;
  for (let i = 0; i < counters.length; i += 1) {
    const kind = (counters[i] as Counter).kind;
    const limit = limits[kind];
    const counted = counts[i];
    const count = counted?.count ?? 0;
    const remaining = Math.max(0, limit - count);
    const resetSeconds = Math.max(1, Math.ceil((counted?.ttlMs ?? limits.windowMs) / 1000));
    if (count > limit) {
      out.exceeded ??= kind;
      out.retryAfterSeconds = Math.max(out.retryAfterSeconds ?? 0, resetSeconds);
    }
    if (!found || remaining < out.remaining) {
      found = true;
      out.limit = limit;
      out.remaining = remaining;
      out.resetSeconds = resetSeconds;
    }
  }
  return out;
}

/** Per-replica fixed windows, used only while Redis is unreachable. Bounded in size. */
export function createMemoryLimiter(maxKeys = 100_000) {
  const windows = new Map<string, { count: number; resetAt: number }>();
  return {
    hit(key: string, windowMs: number, now = Date.now()): { count: number; ttlMs: number } {
      let w = windows.get(key);
      if (!w || w.resetAt <= now) {
        if (windows.size >= maxKeys) {
          for (const [k, v] of windows) if (v.resetAt <= now) windows.delete(k);
          if (windows.size >= maxKeys) windows.clear();
        }
        w = { count: 0, resetAt: now + windowMs };
        windows.set(key, w);
      }
      w.count += 1;
      return { count: w.count, ttlMs: w.resetAt - now };
    },
  };
}

export function createGate(opts: { redis: Redis; limits: Limits; logger: Logger }) {
  const { redis, limits, logger } = opts;
  redis.defineCommand('flow8Gate', { lua: SCRIPT });
  const run = (redis as unknown as { flow8Gate: GateCommand }).flow8Gate.bind(redis);
  const memory = createMemoryLimiter();
  const prefix = counterPrefix(limits.windowMs);
  let degraded = false;
  let unsynced = false;

  return {
    async check(q: { counters: Counter[]; jti?: string | null; tenantId?: string | null }): Promise<GateOutcome> {
      // The script's arguments in one array: numkeys, KEYS…, then ARGV (see SCRIPT).
      const n = q.counters.length;
      const security = Boolean(q.jti) || Boolean(q.tenantId);
      const args: Array<string | number> = [n + (security ? 1 : 0) + (q.jti ? 1 : 0) + (q.tenantId ? 1 : 0)];
      for (const c of q.counters) args.push(`${prefix}${c.kind}:${c.id}`);
      if (security) args.push(SECURITY_SYNC_KEY);
      if (q.jti) args.push(REVOKED_PREFIX + q.jti);
      if (q.tenantId) args.push(allowlistKey(q.tenantId));
      args.push(limits.windowMs, n, q.jti ? '1' : '0', q.tenantId ? '1' : '0');
      try {
        const reply = await run(...args);
        if (degraded) {
          degraded = false;
          logger.info('redis reachable again: rate limits and security checks back on redis');
        }
        const counts: Array<{ count: number; ttlMs: number }> = [];
        for (let i = 0; i < n; i += 1) counts.push({ count: Number(reply[2 * i]), ttlMs: Number(reply[2 * i + 1]) });
        const synced = Number(reply[2 * n]) !== 0;
        const revoked = Number(reply[2 * n + 1]);
        const list = String(reply[2 * n + 2] ?? '');
        const rate = summarise(limits, q.counters, counts);
        if (!synced) {
          if (!unsynced) {
            unsynced = true;
            logger.error(
              { key: SECURITY_SYNC_KEY },
              'redis holds no security sync marker (restarted empty?): API keys and tenant requests refused (503) until auth re-writes revocations and allowlists',
            );
          }
          return {
            rate,
            revoked: q.jti ? 'unavailable' : null,
            allowlist: q.tenantId ? 'unavailable' : null,
            source: 'redis',
          };
        }
        if (unsynced && security) {
          unsynced = false;
          logger.info('security sync marker present again: API keys and tenant allowlists checked in redis');
        }
        return {
          rate,
          revoked: q.jti ? revoked === 1 : null,
          allowlist: list === '' ? null : list,
          source: 'redis',
        };
      } catch (err) {
        if (!degraded) {
          degraded = true;
          logger.error(
            { err },
            'redis unreachable: rate limits fall back to this replica only; API keys and tenant allowlists refused (503)',
          );
        }
        const counts = q.counters.map((c) => memory.hit(`${prefix}${c.kind}:${c.id}`, limits.windowMs));
        return {
          rate: summarise(limits, q.counters, counts),
          revoked: q.jti ? 'unavailable' : null,
          allowlist: q.tenantId ? 'unavailable' : null,
          source: 'memory',
        };
      }
    },
    /** For /readyz: fails while Redis does not answer. */
    async ping(): Promise<void> {
      await redis.ping();
    },
    /**
     * For /readyz: fails while Redis holds no security sync marker — the state in which check()
     * answers `unavailable` and API keys and tenant requests get 503, so readiness says the same.
     */
    async synced(): Promise<void> {
      if ((await redis.exists(SECURITY_SYNC_KEY)) === 0)
        throw new Error(`redis holds no ${SECURITY_SYNC_KEY} marker: auth has not re-written the security state`);
    },
  };
}

export type Gate = ReturnType<typeof createGate>;
