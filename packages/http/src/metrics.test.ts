import { startMetrics, type MetricsHandle } from '@flow8/telemetry';
import type { FastifyInstance } from 'fastify';
import { call, listenForTest } from './__fixtures__/client';
import { captureLogs } from './__fixtures__/logs';
import { buildServiceApp } from './app';
import { AppError } from './errors';
import { requestLabels } from './metrics';

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const labels = (method: string, route: string, statusClass: string) =>
  `{method="${method}",route="${route}",status_class="${statusClass}",service_name="http-test"}`;

describe('HTTP server metrics', () => {
  let metrics: MetricsHandle;
  let app: FastifyInstance;
  let baseUrl: string;
  const get = (url: string) => call(baseUrl, { url });

  beforeAll(async () => {
    metrics = startMetrics({ serviceName: 'http-test' });
    app = buildServiceApp({ service: 'http-test', logger: captureLogs().logger });
    app.get<{ Params: { userId: string } }>('/v1/users/:userId', async (req) => {
      if (req.params.userId === 'usr_forbidden') throw new AppError('FORBIDDEN', 'no');
      return { id: req.params.userId };
    });
    app.get('/boom', async () => {
      throw new Error('boom');
    });
    baseUrl = (await listenForTest(app)).url;
  });
  afterAll(async () => {
    await app.close();
    await metrics.shutdown();
  });

  it('counts requests by method, route pattern and status class, and times them', async () => {
    const userA = 'usr_01jq3x7v9k2m4n6p8r0s2t4v6w';
    const userB = 'usr_01jq3x7v9k2m4n6p8r0s2t4v6x';
    await get(`/v1/users/${userA}?email=a@b.example`);
    await get(`/v1/users/${userB}`);
    await get('/v1/users/usr_forbidden');
    await get('/boom');
    await get(`/v1/nothing/${userA}`);
    await get('/healthz');
    const text = await metrics.scrape();

    expect(sample(text, `http_server_requests_total${labels('GET', '/v1/users/:userId', '2xx')}`)).toBe(2);
    expect(sample(text, `http_server_requests_total${labels('GET', '/v1/users/:userId', '4xx')}`)).toBe(1);
    expect(sample(text, `http_server_requests_total${labels('GET', '/boom', '5xx')}`)).toBe(1);
    expect(sample(text, `http_server_requests_total${labels('GET', 'unmatched', '4xx')}`)).toBe(1);
    expect(sample(text, `http_server_requests_total${labels('GET', '/healthz', '2xx')}`)).toBe(1);
    expect(sample(text, `http_server_duration_seconds_count${labels('GET', '/v1/users/:userId', '2xx')}`)).toBe(2);
    const sum = sample(text, `http_server_duration_seconds_sum${labels('GET', '/v1/users/:userId', '2xx')}`);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(5);
    // The URL never reaches a label: no ids, no query string.
    for (const leaked of [userA, userB, 'usr_forbidden', 'a@b.example', '/v1/nothing']) {
      expect(text).not.toContain(leaked);
    }
  });

  it('maps unknown methods and odd statuses to bounded values', () => {
    expect(requestLabels('GET', '/x', 204)).toEqual({ method: 'GET', route: '/x', status_class: '2xx' });
    expect(requestLabels('PROPFIND', undefined, 405)).toEqual({
      method: '_OTHER',
      route: 'unmatched',
      status_class: '4xx',
    });
    expect(requestLabels('GET', '/x', 0).status_class).toBe('other');
  });
});
