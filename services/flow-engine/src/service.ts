// Wires the flow engine from its config: used by main.ts and by the integration tests, which run
// the real engine in-process against the real stack (several instances to test shared work).
import { randomBytes } from 'node:crypto';
import { ready } from '@flow8/crypto';
import { createServiceBus, identityPublicKeys, loadTls, servicePool } from '@flow8/runtime';
import { createGrantReplica } from '@flow8/grants';
import type { Logger } from '@flow8/telemetry';
import { createAccess } from './access';
import { buildApp } from './app';
import type { FlowEngineConfig } from './config';
import { createCommandsConsumer } from './consumers/commands.consumer';
import { createRegistry, type Operation } from './features/connectors/operation';
import { testOperations } from './features/connectors/test-connector';
import { createExecutionsService } from './features/executions/executions.service';
import { createStepRunner, type StepRunnerHooks } from './features/executions/step-runner';
import { createFlowService } from './features/flows/flows.service';
import { createEngineMetrics } from './metrics';
import { systemClock, type Clock } from './runtime/clock';
import { createSweeps } from './runtime/sweeps';
import { createWorkerPool } from './runtime/worker-pool';

export interface FlowEngineOptions {
  clock?: Clock;
  random?: () => number;
  /** This replica's lease-owner id (default: a random one per process). */
  owner?: string;
  /** Extra operations (tests); the built-in `test` integration is always there. */
  operations?: Operation[];
  hooks?: StepRunnerHooks;
  /** Tests drive the sweeps themselves (`sweeps.sweep()` after moving the clock). */
  startSweeps?: boolean;
}

export async function createFlowEngine(config: FlowEngineConfig, logger: Logger, opts: FlowEngineOptions = {}) {
  await ready();
  const tls = loadTls(config);
  const pool = servicePool('flow-engine', config.FLOW_DATABASE_URL, config.FLOW8_CA_FILE);
  const bus = createServiceBus({
    name: 'flow-engine',
    config,
    tls,
    pool,
    relayDatabaseUrl: config.FLOW_RELAY_DATABASE_URL,
    caFile: config.FLOW8_CA_FILE,
    logger,
  });
  const clock = opts.clock ?? systemClock;
  const owner = opts.owner ?? `flow-engine-${randomBytes(6).toString('hex')}`;
  const registry = createRegistry([...testOperations(), ...(opts.operations ?? [])]);
  const workers = createWorkerPool({
    concurrency: config.FLOW_WORKER_CONCURRENCY,
    maxQueue: config.FLOW_WORKER_QUEUE,
    onError: (e) => logger.error({ err: e }, 'step worker failed'),
  });
  const metrics = createEngineMetrics(workers);
  // The runner aborts local work the executions service ends; created after it, hence the indirection.
  let abortLocal: (ids: string[]) => void = () => undefined;
  const executions = createExecutionsService({
    pool,
    outbox: bus.outbox,
    clock,
    random: opts.random ?? Math.random,
    registry,
    owner,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    stepTimeoutMs: config.FLOW_STEP_TIMEOUT,
    leaseMarginMs: config.FLOW_LEASE_MARGIN,
    logger,
    onAbort: (ids) => abortLocal(ids),
    metrics,
  });
  const runner = createStepRunner({
    executions,
    registry,
    workers,
    clock,
    logger,
    metrics,
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
  });
  abortLocal = (ids) => runner.abort(ids);
  const consumer = createCommandsConsumer({
    kafka: bus.kafka,
    groupId: `${config.KAFKA_TOPIC_PREFIX}${config.FLOW_COMMANDS_CONSUMER_GROUP}`,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    deadLetters: bus.publisher,
    handle: (cmd) => runner.handle(cmd),
    logger,
  });
  const sweeps = createSweeps({
    pool,
    executions,
    clock,
    everyMs: config.FLOW_SWEEP_INTERVAL,
    unclaimedAfterMs: config.FLOW_UNCLAIMED_AFTER,
    logger,
  });
  // The engine's copy of auth's principals and grants (identity topic): flow and partition grants
  // decide who may edit, run and read what, with @flow8/authz's decide().
  const grants = createGrantReplica({
    kafka: bus.kafka,
    pool,
    groupId: `${config.KAFKA_TOPIC_PREFIX}${config.FLOW_GRANTS_CONSUMER_GROUP}`,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    deadLetters: bus.publisher,
    logger,
  });
  const access = createAccess({ grants });
  const flows = createFlowService({ pool, outbox: bus.outbox, clock, authorize: access.authorizeFlow });
  const app = buildApp({
    logger,
    tls: { ...tls, requestClientCert: true },
    allowedCallers: config.FLOW_ALLOWED_CALLERS,
    identityPublicKeys: identityPublicKeys(config),
    readiness: { ...bus.readiness, grants: grants.readiness },
    flows,
    executions,
    access,
    pool,
  });

  return {
    app,
    pool,
    owner,
    relay: bus.relay,
    consumer,
    runner,
    workers,
    sweeps,
    executions,
    flows,
    grants,
    /** What the routes and triggers call to run a flow version (internal; no HTTP side yet). */
    startExecution: executions.startExecution,
    cancelExecution: executions.cancelExecution,
    getExecution: executions.getExecution,
    /** Approvals (internal; the routes call these with the caller's verified identity). */
    decideApproval: executions.decideApproval,
    listPendingApprovals: executions.listPendingApprovals,
    /** Topics, then the loops. The HTTP listener is the caller's. */
    async start() {
      await bus.requireTopics();
      metrics.start();
      bus.relay.start();
      await grants.start();
      await consumer.start();
      if (opts.startSweeps ?? true) sweeps.start();
    },
    async stop() {
      await sweeps.stop();
      await consumer.stop();
      await grants.stop();
      runner.abortAll();
      // Attempts end at their next await; one stuck in a racepoint (tests) or ignoring its signal
      // is left to its lease rather than holding shutdown.
      await Promise.race([workers.idle(), new Promise((r) => setTimeout(r, 5_000).unref())]);
      metrics.stop();
      await bus.stop();
      await pool.end();
    },
  };
}

export type FlowEngine = Awaited<ReturnType<typeof createFlowEngine>>;
