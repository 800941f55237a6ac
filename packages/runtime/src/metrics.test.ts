import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
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
});
