import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  counter,
  histogram,
  ID_REDACTED,
  metricsUrl,
  observableGauge,
  safeLabelValue,
  serveMetrics,
  startMetrics,
  type MetricsHandle,
} from './index';

// Defined at module level, before any provider exists — as packages do.
const requests = counter('test_requests', { description: 'requests', labels: ['route', 'status_class'] });
const latency = histogram('test_latency_seconds', {
  description: 'latency',
  unit: 's',
  labels: ['route'],
  buckets: [0.1, 1],
});

/** The value of one sample line, e.g. sample(text, 'x_total{a="b"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function get(url: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('metrics helpers', () => {
  let metrics: MetricsHandle;
  beforeEach(() => {
    metrics = startMetrics({ serviceName: 'metrics-test' });
  });
  afterEach(() => metrics.shutdown());

  it('exposes counters with _total, histograms with buckets, and the service as a label', async () => {
    requests.add(1, { route: '/v1/things/:id', status_class: '2xx' });
    requests.add(2, { route: '/v1/things/:id', status_class: '2xx' });
    latency.record(0.05, { route: '/v1/things/:id' });
    latency.record(0.5, { route: '/v1/things/:id' });
    const text = await metrics.scrape();
    expect(text).toContain('# TYPE test_requests_total counter');
    expect(
      sample(text, 'test_requests_total{route="/v1/things/:id",status_class="2xx",service_name="metrics-test"}'),
    ).toBe(3);
    expect(sample(text, 'test_latency_seconds_count{route="/v1/things/:id",service_name="metrics-test"}')).toBe(2);
    expect(
      sample(text, 'test_latency_seconds_bucket{route="/v1/things/:id",service_name="metrics-test",le="0.1"}'),
    ).toBe(1);
    expect(
      sample(text, 'test_latency_seconds_bucket{route="/v1/things/:id",service_name="metrics-test",le="+Inf"}'),
    ).toBe(2);
  });

  it('drops label names the instrument did not declare, and replaces id-like values', async () => {
    const tenant = 'ten_01jq3x7v9k2m4n6p8r0s2t4v6w';
    // The cast is what a careless caller would need to sneak a tenant label past the types.
    requests.add(1, { route: '/v1/x', status_class: '2xx', tenant_id: tenant } as never);
    requests.add(1, { route: `/v1/tenants/${tenant}`, status_class: '4xx' });
    requests.add(1, { route: 'a@b.example', status_class: '4xx' });
    requests.add(1, { route: '0190a4c2-1b2c-7d3e-8f90-a1b2c3d4e5f6', status_class: '4xx' });
    requests.add(1, { route: '203.0.113.9', status_class: '4xx' });
    requests.add(1, { route: '2001:db8::1', status_class: '4xx' });
    const text = await metrics.scrape();
    expect(text).not.toContain('tenant_id');
    for (const leaked of [tenant, 'a@b.example', '0190a4c2', '203.0.113.9', '2001:db8']) {
      expect(text).not.toContain(leaked);
    }
    expect(
      sample(text, `test_requests_total{route="${ID_REDACTED}",status_class="4xx",service_name="metrics-test"}`),
    ).toBe(5);
    expect(sample(text, 'test_requests_total{route="/v1/x",status_class="2xx",service_name="metrics-test"}')).toBe(1);
  });

  it('keeps the label values flow8 uses: routes, topics, groups, methods, classes', () => {
    for (const v of [
      '/internal/v1/credentials/:credentialId/resolve',
      '/internal/v1/keys/reencrypt-status',
      'flow8.identity.events.v1',
      't1a2b3c4d.flow8.vault.events.v1.dlq',
      'credential-vault.grants',
      'audit-ingest',
      'GET',
      '5xx',
      'unmatched',
    ]) {
      expect(safeLabelValue(v)).toBe(v);
    }
    expect(safeLabelValue(3)).toBe(3);
    expect(safeLabelValue('x'.repeat(300))).toHaveLength(100);
  });

  it('observes gauges at scrape time, until removed; a failing observer skips only itself', async () => {
    let backlog = 7;
    const g = observableGauge('test_backlog', { description: 'backlog', labels: ['topic'] }, () => [
      [backlog, { topic: 'a' }],
    ]);
    const broken = observableGauge('test_broken', { description: 'broken' }, () => {
      throw new Error('db down');
    });
    try {
      expect(sample(await metrics.scrape(), 'test_backlog{topic="a",service_name="metrics-test"}')).toBe(7);
      backlog = 0;
      const text = await metrics.scrape();
      expect(sample(text, 'test_backlog{topic="a",service_name="metrics-test"}')).toBe(0);
      expect(text).not.toMatch(/^test_broken/m);
    } finally {
      g.remove();
      broken.remove();
    }
    expect(await metrics.scrape()).not.toMatch(/^test_backlog/m);
  });

  it('binds gauges defined before the provider to it, and to a provider that replaces it', async () => {
    await metrics.shutdown();
    const g = observableGauge('test_early', { description: 'defined before startMetrics' }, async () => [[1]]);
    try {
      metrics = startMetrics({ serviceName: 'first' });
      expect(sample(await metrics.scrape(), 'test_early{service_name="first"}')).toBe(1);
      metrics = startMetrics({ serviceName: 'second' });
      expect(sample(await metrics.scrape(), 'test_early{service_name="second"}')).toBe(1);
    } finally {
      g.remove();
    }
  });

  it('pushes to an OTLP endpoint when one is configured', async () => {
    await metrics.shutdown();
    const bodies: Array<{ path: string | undefined; body: string }> = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push({ path: req.url, body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const { port } = collector.address() as AddressInfo;
    try {
      metrics = startMetrics({
        serviceName: 'pushed',
        otlpEndpoint: `http://127.0.0.1:${port}`,
        exportIntervalMs: 100,
      });
      requests.add(4, { route: '/pushed', status_class: '2xx' });
      const deadline = Date.now() + 5000;
      while (!bodies.some((b) => b.body.includes('/pushed')) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const pushed = bodies.find((b) => b.body.includes('/pushed'));
      expect(pushed?.path).toBe('/v1/metrics');
      expect(pushed?.body).toContain('test_requests');
      expect(pushed?.body).toContain('pushed');
    } finally {
      await metrics.shutdown();
      collector.closeAllConnections();
      await new Promise((r) => collector.close(r));
    }
  });

  it('appends /v1/metrics to an OTLP base endpoint only when missing', () => {
    expect(metricsUrl('http://collector:4318')).toBe('http://collector:4318/v1/metrics');
    expect(metricsUrl('http://collector:4318/')).toBe('http://collector:4318/v1/metrics');
    expect(metricsUrl('https://c.example/otlp/v1/metrics')).toBe('https://c.example/otlp/v1/metrics');
  });
});

describe('serveMetrics', () => {
  it('serves GET /metrics in the Prometheus text format and nothing else', async () => {
    const metrics = startMetrics({ serviceName: 'listener-test' });
    requests.add(1, { route: '/r', status_class: '2xx' });
    const server = await serveMetrics({ metrics, host: '127.0.0.1', port: 0 });
    try {
      expect(server.port).toBeGreaterThan(0);
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
      const ok = await get(server.url);
      expect(ok.status).toBe(200);
      expect(ok.type).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(ok.body).toContain('test_requests_total{route="/r",status_class="2xx",service_name="listener-test"} 1');
      expect(ok.body).toContain('target_info{');
      expect((await get(`${server.url}?x=1`)).status).toBe(200);
      expect((await get(server.url.replace('/metrics', '/'))).status).toBe(404);
      expect((await get(server.url.replace('/metrics', '/healthz'))).status).toBe(404);
      expect((await get(server.url, 'POST')).status).toBe(405);
      const head = await get(server.url, 'HEAD');
      expect(head.status).toBe(200);
      expect(head.body).toBe('');
    } finally {
      await server.close();
      await metrics.shutdown();
    }
  });

  it('refuses to start on a port that is taken', async () => {
    const metrics = startMetrics({ serviceName: 'listener-test' });
    const first = await serveMetrics({ metrics, host: '127.0.0.1', port: 0 });
    try {
      await expect(serveMetrics({ metrics, host: '127.0.0.1', port: first.port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.close();
      await metrics.shutdown();
    }
  });
});
