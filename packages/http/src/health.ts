import type { FastifyBaseLogger, FastifyInstance } from 'fastify';

export type ReadinessCheck = () => Promise<void>;
export type CheckResult = 'ok' | 'fail';

export const READINESS_TIMEOUT_MS = 2000;

// Apps that are shutting down: /readyz answers 503 for them so load balancers stop sending
// traffic before the listener closes. Kept off the instance so nothing else can flip it.
const draining = new WeakSet<FastifyInstance>();

/** Makes /readyz answer 503 from now on (first step of a graceful shutdown). */
export function markDraining(app: FastifyInstance): void {
  draining.add(app);
}

export function isDraining(app: FastifyInstance): boolean {
  return draining.has(app);
}

async function runCheck(
  name: string,
  check: ReadinessCheck,
  timeoutMs: number,
  log: FastifyBaseLogger,
): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`readiness check timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    // Promise.resolve().then: a check that throws synchronously still counts as a failure.
    await Promise.race([Promise.resolve().then(check), timeout]);
    return 'ok';
  } catch (err) {
    // Details (hostnames, driver messages) go to the log only; probes are unauthenticated.
    log.warn({ err, check: name }, 'readiness check failed');
    return 'fail';
  } finally {
    clearTimeout(timer);
  }
}

export async function runReadiness(
  checks: Record<string, ReadinessCheck>,
  log: FastifyBaseLogger,
  timeoutMs = READINESS_TIMEOUT_MS,
): Promise<{ ready: boolean; checks: Record<string, CheckResult> }> {
  const names = Object.keys(checks);
  const results = await Promise.all(
    names.map((name) => runCheck(name, checks[name] as ReadinessCheck, timeoutMs, log)),
  );
  const out: Record<string, CheckResult> = {};
  names.forEach((name, i) => {
    out[name] = results[i] ?? 'fail';
  });
  return { ready: results.every((r) => r === 'ok'), checks: out };
}

const healthSchema = {
  response: {
    200: {
      type: 'object',
      properties: { status: { type: 'string' } },
      required: ['status'],
      additionalProperties: false,
    },
  },
} as const;

const readySchemaBody = {
  type: 'object',
  properties: {
    status: { type: 'string' },
    draining: { type: 'boolean' },
    checks: { type: 'object', additionalProperties: { type: 'string', enum: ['ok', 'fail'] } },
  },
  required: ['status', 'checks'],
  additionalProperties: false,
} as const;

export type ProbePath = '/healthz' | '/readyz';
export interface ProbeAnswer {
  status: 200 | 503;
  body: { status: string; draining?: boolean; checks?: Record<string, CheckResult> };
}

const probeAnswerers = new WeakMap<
  FastifyInstance,
  (path: ProbePath, log: FastifyBaseLogger) => Promise<ProbeAnswer>
>();

/**
 * The app's own probe answers, for a listener other than the app's (the plain-HTTP metrics
 * listener, which an orchestrator reaches without the client certificate the mTLS port demands).
 * The same checks and draining state as the app's /healthz and /readyz routes.
 */
export function probeAnswerer(app: FastifyInstance): ((path: ProbePath) => Promise<ProbeAnswer>) | null {
  const answer = probeAnswerers.get(app);
  return answer ? (path) => answer(path, app.log) : null;
}

export function installHealthRoutes(
  app: FastifyInstance,
  checks: Record<string, ReadinessCheck>,
  timeoutMs = READINESS_TIMEOUT_MS,
): void {
  const answer = async (path: ProbePath, log: FastifyBaseLogger): Promise<ProbeAnswer> => {
    // Liveness says only "the event loop answers": it must not depend on anything external,
    // or a database outage would make the orchestrator restart every replica.
    if (path === '/healthz') return { status: 200, body: { status: 'ok' } };
    if (isDraining(app)) return { status: 503, body: { status: 'unready', draining: true, checks: {} } };
    const result = await runReadiness(checks, log, timeoutMs);
    return {
      status: result.ready ? 200 : 503,
      body: { status: result.ready ? 'ready' : 'unready', checks: result.checks },
    };
  };
  probeAnswerers.set(app, answer);

  app.get('/healthz', { schema: healthSchema }, async (request) => (await answer('/healthz', request.log)).body);

  app.get(
    '/readyz',
    { schema: { response: { 200: readySchemaBody, 503: readySchemaBody } } },
    async (request, reply) => {
      const { status, body } = await answer('/readyz', request.log);
      return reply.code(status).send(body);
    },
  );
}
