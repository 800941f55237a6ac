// The client's address. X-Forwarded-For is written by whoever sent the request, so it is only
// believed when the direct peer is one of our proxies, and then only up to the first hop that
// is not ours: everything left of that was written by the client and may be invented.
import { isIP, type BlockList } from 'node:net';
import { ipIn, normaliseIp } from '@flow8/http';

export function clientIp(
  socketAddress: string | undefined,
  xff: string | string[] | undefined,
  trusted: BlockList | null,
): string {
  const peer = normaliseIp(socketAddress ?? '');
  if (!trusted || !ipIn(trusted, peer) || xff === undefined) return peer;
  const hops = (Array.isArray(xff) ? xff.join(',') : xff)
    .split(',')
    .map((h) => normaliseIp(h))
    .filter((h) => h.length > 0);
  let candidate = peer;
  // Right to left: each trusted hop vouches for the address to its left.
  for (let i = hops.length - 1; i >= 0; i -= 1) {
    const hop = hops[i] as string;
    if (isIP(hop) === 0) return candidate; // garbage: do not look further left than the last good hop
    candidate = hop;
    if (!ipIn(trusted, hop)) return hop;
  }
  return candidate;
}
