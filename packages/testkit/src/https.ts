import { request } from 'node:https';
import { certPair, stackEnv } from './stack';
import { readFileSync } from 'node:fs';

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = unknown>(): T;
}

/**
 * A real HTTPS request over loopback, verifying the server against the stack's CA and, when
 * `as` names a certificate (e.g. 'gateway', 'operator'), presenting it as the client (mTLS).
 */
export function httpsRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: unknown; as?: string | null } = {},
): Promise<HttpsResponse> {
  const client = opts.as ? certPair(opts.as) : null;
  const payload =
    opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        ca: readFileSync(stackEnv().caFile),
        cert: client?.cert,
        key: client?.key,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
