import { call } from './__fixtures__/client';
import { captureLogs } from './__fixtures__/logs';
import { buildServiceApp } from './app';
import { isDraining } from './health';
import { installShutdownSignals, serve } from './serve';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('serve and graceful shutdown', () => {
  it('flips readiness, lets the in-flight request finish, then runs the hooks in order', async () => {
    const events: string[] = [];
    const entered = deferred();
    const release = deferred();
    const app = buildServiceApp({ service: 'svc', logger: captureLogs().logger });
    app.get('/slow', async () => {
      entered.resolve();
      await release.promise;
      events.push('request finished');
      return { done: true };
    });
    const service = await serve(app, {
      host: '127.0.0.1',
      port: 0,
      handleSignals: false,
      onShutdown: [async () => void events.push('stop consumers'), async () => void events.push('close pool')],
    });

    const inFlight = call(service.url, { url: '/slow' });
    await entered.promise;
    expect(isDraining(app)).toBe(false);

    const closed = service.close();
    expect(isDraining(app)).toBe(true);
    expect(service.close()).toBe(closed); // idempotent: same shutdown, not a second one

    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(events).toEqual([]); // hooks wait for the request

    release.resolve();
    const res = await inFlight;
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ done: true });
    await closed;
    expect(events).toEqual(['request finished', 'stop consumers', 'close pool']);

    // the listener is gone
    await expect(call(service.url, { url: '/healthz' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('runs every hook even when one fails, then reports the failure', async () => {
    const ran: string[] = [];
    const app = buildServiceApp({ service: 'svc', logger: captureLogs().logger });
    const service = await serve(app, {
      host: '127.0.0.1',
      port: 0,
      handleSignals: false,
      onShutdown: [
        async () => {
          ran.push('consumers');
          throw new Error('consumer stuck');
        },
        async () => void ran.push('pool'),
      ],
    });
    await expect(service.close()).rejects.toThrow('shutdown finished with errors');
    expect(ran).toEqual(['consumers', 'pool']);
  });

  it('gives up after shutdownTimeoutMs', async () => {
    const app = buildServiceApp({ service: 'svc', logger: captureLogs().logger });
    const service = await serve(app, {
      host: '127.0.0.1',
      port: 0,
      handleSignals: false,
      shutdownTimeoutMs: 100,
      onShutdown: [() => new Promise<void>(() => {})],
    });
    const started = Date.now();
    await expect(service.close()).rejects.toThrow('shutdown did not finish within 100 ms');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('installShutdownSignals', () => {
  const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  function recorder(): { codes: number[]; exit: (code: number) => void } {
    const codes: number[] = [];
    return { codes, exit: (code) => void codes.push(code) };
  }

  it('exits 0 after a clean shutdown on SIGTERM', async () => {
    let closes = 0;
    const { codes, exit } = recorder();
    const uninstall = installShutdownSignals({ close: async () => void closes++ }, { exit });
    try {
      process.emit('SIGTERM');
      await flush();
      expect(closes).toBe(1);
      expect(codes).toEqual([0]);
    } finally {
      uninstall();
    }
  });

  it('exits 1 when the shutdown fails', async () => {
    const { codes, exit } = recorder();
    const uninstall = installShutdownSignals({ close: async () => Promise.reject(new Error('timed out')) }, { exit });
    try {
      process.emit('SIGINT');
      await flush();
      expect(codes).toEqual([1]);
    } finally {
      uninstall();
    }
  });

  it('exits 1 at once on a second signal during shutdown', async () => {
    const { codes, exit } = recorder();
    const uninstall = installShutdownSignals({ close: () => new Promise<void>(() => {}) }, { exit });
    try {
      process.emit('SIGTERM');
      await flush();
      expect(codes).toEqual([]);
      process.emit('SIGTERM');
      expect(codes).toEqual([1]);
    } finally {
      uninstall();
    }
  });

  it('stops listening once uninstalled', async () => {
    const before = process.listenerCount('SIGTERM');
    const uninstall = installShutdownSignals({ close: async () => {} }, { exit: () => {} });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    uninstall();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});
