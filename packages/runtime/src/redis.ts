import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

export type { Redis };

/**
 * Present in Redis once auth has re-written every revoked API key and every company's IP
 * allowlist into it (the value names that pass). Redis runs without persistence: after a restart
 * it is empty, and an empty Redis looks exactly like "nothing revoked, no allowlist". The gateway
 * refuses API keys and tenant requests (503) while this key is missing, so a restart never
 * re-opens a revoked key; auth writes it back within a second or two of reconnecting.
 */
export const SECURITY_SYNC_KEY = 'flow8:security:synced';
/** Set by auth before a full re-write; the sync key is written only if this still holds its token. */
export const SECURITY_SYNC_PENDING_KEY = 'flow8:security:sync-pending';

/**
 * A Redis client over TLS only (`rediss://`), verifying the server against our CA. Commands fail
 * fast while disconnected (no offline queue) so callers can apply their documented fallback
 * instead of hanging.
 */
export function createRedis(opts: { url: string; caFile: string; name: string }): Redis {
  const url = new URL(opts.url);
  if (url.protocol !== 'rediss:') throw new Error('REDIS_URL must use rediss:// (TLS)');
  return new Redis(opts.url, {
    tls: { ca: readFileSync(opts.caFile, 'utf8'), servername: url.hostname, minVersion: 'TLSv1.2' },
    connectionName: opts.name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 1000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    lazyConnect: false,
  });
}
