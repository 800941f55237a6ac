import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildServiceApp, markDraining } from '@flow8/http';
import { createLogger } from '@flow8/telemetry';
import { startServiceMetrics } from './index';

const config = (port: number) => ({ METRICS_HOST: '127.0.0.1', METRICS_PORT: port, OTEL_SERVICE_NAME: undefined });

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('startServiceMetrics', () => {
  it('METRICS_PORT=0 starts no listener', async () => {
    const m = await startServiceMetrics('svc', config(0));
    try {
      expect(m.server).toBeNull();
      // Metrics are still collected (for OTLP push).
      expect(await m.metrics.scrape()).toContain('service_name="svc"');
    } finally {
      await m.stop();
    }
  });

  it('serves /metrics on the configured port, named after OTEL_SERVICE_NAME when set', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise((r) => probe.close(r));
    const m = await startServiceMetrics('svc', { ...config(port), OTEL_SERVICE_NAME: 'svc-eu1' });
    try {
      expect(m.server?.url).toBe(`http://127.0.0.1:${port}/metrics`);
      const res = await get(m.server!.url);
      expect(res.status).toBe(200);
      expect(res.body).toContain('service_name="svc-eu1"');
    } finally {
      await m.stop();
    }
    // Stopped: the port is free again.
    await expect(get(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('fails the start, naming the address, when the port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const { port } = taken.address() as AddressInfo;
    try {
      await expect(startServiceMetrics('svc', config(port))).rejects.toThrow(
        `metrics listener could not start on 127.0.0.1:${port}`,
      );
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('serves the app’s /healthz and /readyz on the plain-HTTP listener, where a kubelet needs no client certificate', async () => {
    const logger = createLogger({ service: 'svc', level: 'silent', destination: { write: () => undefined } });
    let dbUp = false;
    const app = buildServiceApp({
      service: 'svc',
      logger,
      readiness: {
        postgres: async () => {
          if (!dbUp) throw new Error('connection refused');
        },
      },
    });
    await app.ready();
    const m = await startServiceMetrics('svc', config(await freePort()), app);
    try {
      const base = m.server!.url.replace(/\/metrics$/, '');
      expect(await get(`${base}/healthz`)).toEqual({ status: 200, body: '{"status":"ok"}' });
      expect(await get(`${base}/readyz`)).toEqual({
        status: 503,
        body: '{"status":"unready","checks":{"postgres":"fail"}}',
      });
      dbUp = true;
      expect(await get(`${base}/readyz`)).toEqual({
        status: 200,
        body: '{"status":"ready","checks":{"postgres":"ok"}}',
      });
      markDraining(app);
      expect((await get(`${base}/readyz`)).status).toBe(503);
      expect((await get(`${base}/metrics`)).status).toBe(200);
    } finally {
      await m.stop();
      await app.close();
    }
  });
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}
