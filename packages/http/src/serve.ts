import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { markDraining } from './health';

export interface ServeOptions {
  host: string;
  port: number;
  /** Hard limit for the whole shutdown; past it close() rejects and the signal path exits 1. Default 10 s. */
  shutdownTimeoutMs?: number;
  /** Run in order after the server stopped taking requests: stop consumers, close pools, flush telemetry. */
  onShutdown?: Array<() => Promise<void>>;
  /**
   * Time between /readyz turning 503 and the listener closing, so load balancers see the
   * probe fail before connections are refused (set it above the probe period in Kubernetes).
   * Default 0.
   */
  drainDelayMs?: number;
  /** Install SIGTERM/SIGINT handling (see installShutdownSignals). Default true. */
  handleSignals?: boolean;
}

export interface RunningService {
  /** e.g. `https://127.0.0.1:8443`. */
  url: string;
  /** Graceful shutdown; idempotent — every call returns the same promise. */
  close(): Promise<void>;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function shutdown(app: FastifyInstance, opts: ServeOptions): Promise<void> {
  const log = app.log;
  // Readiness first: new traffic stops being routed here while in-flight requests finish.
  markDraining(app);
  log.info('shutting down: readiness is now 503');
  if (opts.drainDelayMs) await sleep(opts.drainDelayMs);

  const failures: unknown[] = [];
  try {
    // Stops accepting connections, answers 503 to new requests on kept-alive sockets and
    // resolves once in-flight requests have completed.
    await app.close();
  } catch (err) {
    log.error({ err }, 'closing the HTTP server failed');
    failures.push(err);
  }
  // Every hook runs even if an earlier one failed: a stuck Kafka consumer must not keep a
  // database pool open.
  for (const [i, hook] of (opts.onShutdown ?? []).entries()) {
    try {
      await hook();
    } catch (err) {
      log.error({ err, hook: i }, 'shutdown hook failed');
      failures.push(err);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, 'shutdown finished with errors');
  log.info('shutdown complete');
}

function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`shutdown did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Listens and returns a handle whose close() performs the graceful shutdown:
 * readiness → 503, (drain delay), app.close() waits for in-flight requests, onShutdown hooks
 * in order — all within shutdownTimeoutMs.
 */
export async function serve(app: FastifyInstance, opts: ServeOptions): Promise<RunningService> {
  const url = await app.listen({ host: opts.host, port: opts.port });
  const timeoutMs = opts.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  let closing: Promise<void> | undefined;
  const service: RunningService = {
    url,
    close: () => {
      closing ??= withTimeout(shutdown(app, opts), timeoutMs);
      return closing;
    },
  };
  if (opts.handleSignals !== false) installShutdownSignals(service, { logger: app.log });
  return service;
}

export interface ShutdownSignalOptions {
  signals?: readonly NodeJS.Signals[];
  logger?: FastifyBaseLogger;
  /** Injected by tests; defaults to process.exit. */
  exit?: (code: number) => void;
}

/**
 * On SIGTERM/SIGINT: close the service, exit 0 when that succeeded, 1 when it failed or
 * timed out. A second signal while shutting down exits 1 at once (an operator pressing
 * Ctrl-C twice means it). Returns a function that removes the handlers.
 */
export function installShutdownSignals(
  service: Pick<RunningService, 'close'>,
  opts: ShutdownSignalOptions = {},
): () => void {
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const log = opts.logger;
  let started = false;

  const onSignal = (signal: NodeJS.Signals): void => {
    if (started) {
      log?.warn({ signal }, 'second signal during shutdown: exiting now');
      exit(1);
      return;
    }
    started = true;
    log?.info({ signal }, 'signal received: shutting down');
    service.close().then(
      () => exit(0),
      (err: unknown) => {
        log?.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };

  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
