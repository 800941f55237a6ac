import type { IncomingMessage } from 'node:http';
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import type { FastifyInstance } from 'fastify';

export interface TestResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface CallOptions {
  method?: string;
  url: string;
  headers?: OutgoingHttpHeaders;
  /** Objects are sent as JSON; strings as they are. */
  payload?: unknown;
  /** TLS client settings (ca, key, cert, minVersion, …) for https URLs. */
  tls?: Pick<HttpsRequestOptions, 'ca' | 'key' | 'cert' | 'minVersion' | 'maxVersion' | 'ciphers' | 'servername'>;
}

/** One HTTP(S) request against a base URL, on a fresh connection, collecting the whole body. */
export function call(baseUrl: string, opts: CallOptions): Promise<TestResponse> {
  const target = new URL(baseUrl);
  const headers: OutgoingHttpHeaders = { ...opts.headers };
  let body: string | undefined;
  if (opts.payload !== undefined) {
    body = typeof opts.payload === 'string' ? opts.payload : JSON.stringify(opts.payload);
    if (typeof opts.payload !== 'string' && headers['content-type'] === undefined) {
      headers['content-type'] = 'application/json';
    }
  }
  const common = {
    host: target.hostname,
    port: target.port,
    method: opts.method ?? 'GET',
    path: opts.url,
    headers,
    agent: false as const,
  };
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          statusCode: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    };
    const req =
      target.protocol === 'https:'
        ? httpsRequest({ ...common, ...opts.tls }, onResponse)
        : httpRequest(common, onResponse);
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Listens on an ephemeral loopback port and returns a caller bound to it.
 *
 * Why not app.inject: under this repo's jest (ESM via vm modules), light-my-request 6.8
 * `require()`s the ESM-only `cookie@2`, which jest 29 cannot load. Real sockets also
 * exercise exactly what production runs.
 */
export async function listenForTest(
  app: FastifyInstance,
): Promise<{ url: string; call: (opts: CallOptions) => Promise<TestResponse> }> {
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, call: (opts) => call(url, opts) };
}
