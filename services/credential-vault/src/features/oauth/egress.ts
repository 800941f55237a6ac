// Outbound HTTPS for OAuth endpoints (DESIGN § Security model: outbound integration calls are
// HTTPS only; private and link-local addresses are refused unless allowlisted). The address
// check runs on the address actually connected to (a `lookup` hook), so a DNS answer that
// changes between check and connect cannot slip a private address through.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { cidrListOrThrow, ipIn } from '@flow8/http';
import { OAuthError } from './oauth.errors';

export interface EgressOptions {
  /** PEM CA bundle to verify providers with; omitted → Node's public roots. */
  ca?: string | Buffer | undefined;
  /**
   * Host names (exact, lower case) allowed to resolve to private, loopback or link-local
   * addresses — e.g. `localhost` for a provider run in tests, or an on-premises IdP.
   */
  allowPrivateHosts?: readonly string[] | undefined;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number | undefined;
}

export interface EgressResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const MAX_BODY = 1024 * 1024;

// Parsed by the one CIDR parser (@flow8/http), like every other network list.
const blocked = cidrListOrThrow('egress private ranges', [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
]);

/** True for loopback, private (RFC 1918, ULA), CGNAT, link-local, multicast and reserved addresses. */
export function isPrivateAddress(address: string): boolean {
  // Not an address at all: refuse. An IPv4-mapped IPv6 address is judged as the IPv4 it carries.
  if (isIP(address) === 0) return true;
  return ipIn(blocked, address);
}

/** Throws EGRESS_REFUSED unless `url` is https: and (for an IP literal) a public address. */
export function assertEgressAllowed(url: URL, opts: EgressOptions): void {
  if (url.protocol !== 'https:') throw new OAuthError('EGRESS_REFUSED', 'OAuth endpoints must use https');
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const allowed = opts.allowPrivateHosts?.includes(host) ?? false;
  if (!allowed && isIP(host) && isPrivateAddress(host)) {
    throw new OAuthError('EGRESS_REFUSED', 'OAuth endpoint is a private address');
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

function guardedLookup(allowed: boolean) {
  return (hostname: string, options: object, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses;
      if (!allowed && list.some((a) => isPrivateAddress(a.address))) {
        const refusal: NodeJS.ErrnoException = new Error('resolves to a private address');
        refusal.code = 'EGRESS_REFUSED';
        return callback(refusal, '');
      }
      if ((options as { all?: boolean }).all) return callback(null, list);
      const first = list[0];
      if (!first) return callback(new Error('no address'), '');
      return callback(null, first.address, first.family);
    });
  };
}

/**
 * One HTTPS request, no redirects followed (an OAuth endpoint that redirects is misconfigured,
 * and following it could carry client credentials elsewhere). The body is capped at 1 MiB.
 */
export function egressRequest(
  url: URL,
  opts: EgressOptions,
  init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
): Promise<EgressResponse> {
  assertEgressAllowed(url, opts);
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const allowed = opts.allowPrivateHosts?.includes(host) ?? false;
  return new Promise((resolve, reject) => {
    const fail = (e: unknown) => {
      const code = (e as { code?: unknown }).code;
      reject(
        code === 'EGRESS_REFUSED'
          ? new OAuthError('EGRESS_REFUSED', 'OAuth endpoint resolves to a private address')
          : new OAuthError('NETWORK', `request to ${url.origin}${url.pathname} failed`, { cause: e }),
      );
    };
    const req = request(
      url,
      {
        method: init.method,
        // No pooled sockets: a keep-alive socket opened under another policy (another CA, an
        // allowlisted private host) would be reused without this request's checks running.
        agent: false,
        ca: opts.ca,
        minVersion: 'TLSv1.2',
        lookup: guardedLookup(allowed),
        timeout: opts.timeoutMs ?? 10_000,
        headers: {
          accept: 'application/json',
          ...(init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {}),
          ...init.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) {
            res.destroy(new Error('response too large'));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', fail);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', fail);
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}
