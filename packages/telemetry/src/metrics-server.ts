// The metrics listener: plain HTTP on its own address and port, serving GET /metrics and — when
// the service hands over its probes — GET /healthz and /readyz. It is kept apart from the
// service's HTTPS/mTLS listener so Prometheus and an orchestrator's HTTP probes (a kubelet has no
// client certificate) need none, and the service's API surface does not grow; it serves nothing
// but aggregate, label-bounded numbers and probe outcomes. Bind it to loopback (the default) or to
// an address a NetworkPolicy restricts to the scraper and the kubelet.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROMETHEUS_CONTENT_TYPE, type MetricsHandle } from './metrics';

/** The service's probe answers (@flow8/http probeAnswerer), served as JSON. */
export type ProbeHandler = (
  path: '/healthz' | '/readyz',
) => Promise<{ status: number; body: Record<string, unknown> | object }>;

export interface MetricsServer {
  /** e.g. `http://127.0.0.1:9104/metrics` (with the real port when 0 was asked for). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A scrape that takes longer than this is answered 503 rather than left hanging. */
const SCRAPE_TIMEOUT_MS = 10_000;

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': status === 200 ? PROMETHEUS_CONTENT_TYPE : 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

async function answerProbe(
  probes: ProbeHandler,
  path: '/healthz' | '/readyz',
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n', { allow: 'GET' });
  try {
    const { status, body } = await probes(path);
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : text);
  } catch {
    send(res, 503, 'probe failed\n');
  }
}

async function handle(
  metrics: MetricsHandle,
  probes: ProbeHandler | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (probes && (path === '/healthz' || path === '/readyz')) return answerProbe(probes, path, req, res);
  if (path !== '/metrics') return send(res, 404, 'not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n', { allow: 'GET' });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('scrape timed out')), SCRAPE_TIMEOUT_MS);
  });
  try {
    const text = await Promise.race([metrics.scrape(), timeout]);
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
      res.end();
    } else {
      send(res, 200, text);
    }
  } catch {
    // The reason stays in-process: the listener is unauthenticated.
    send(res, 503, 'metrics collection failed\n');
  } finally {
    clearTimeout(timer);
  }
}

/** Starts the listener; port 0 picks a free port (tests). Rejects if the address is taken. */
export async function serveMetrics(opts: {
  metrics: MetricsHandle;
  host: string;
  port: number;
  /** Also answer GET /healthz and /readyz with the service's own probes. */
  probes?: ProbeHandler;
}): Promise<MetricsServer> {
  const server = createServer((req, res) => void handle(opts.metrics, opts.probes, req, res));
  // A scraper keeps its connection alive between scrapes; shutdown must not wait for it.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}/metrics`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
