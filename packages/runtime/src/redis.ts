import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

export type { Redis };

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
