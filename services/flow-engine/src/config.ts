import { z } from 'zod';
import {
  busFields,
  csv,
  duration,
  httpFields,
  int,
  internalIdentityFields,
  kafkaFields,
  metricsFields,
  metricsPort,
  port,
  secret,
  str,
  telemetryFields,
  tlsFields,
} from '@flow8/config';

export const flowEngineConfigSchema = z.object({
  ...httpFields,
  ...kafkaFields,
  ...tlsFields,
  ...telemetryFields,
  ...metricsFields,
  ...busFields,
  ...internalIdentityFields,
  PORT: port(8105),
  /** Plain-HTTP `GET /metrics` for Prometheus; 0 turns it off. */
  METRICS_PORT: metricsPort(9105),
  /** Runtime role (non-owner, bound by row-level security). */
  FLOW_DATABASE_URL: secret(),
  /** The outbox relay's role: reads and marks the outbox, nothing else. */
  FLOW_RELAY_DATABASE_URL: secret(),
  /** Client-certificate CNs allowed to call the engine's routes (with an internal identity token). */
  FLOW_ALLOWED_CALLERS: csv().default('gateway'),
  /** Consumer group of the commands topic (before the installation's prefix); every replica shares it. */
  FLOW_COMMANDS_CONSUMER_GROUP: str().default('flow-engine'),
  /**
   * Consumer group of the engine's copy of auth's principals and grants (read from the identity
   * topic; before the installation's prefix). Flow and partition grants decide edits, runs and reads.
   */
  FLOW_GRANTS_CONSUMER_GROUP: str().default('flow-engine.grants'),
  /** Steps one replica runs at once (the worker pool). */
  FLOW_WORKER_CONCURRENCY: int({ min: 1, max: 1000, default: 16 }),
  /** Claimed steps waiting for a worker; beyond this a command is left for another replica or a later sweep. */
  FLOW_WORKER_QUEUE: int({ min: 0, max: 100_000, default: 64 }),
  /** Deadline of one step attempt when its flowlet sets none. */
  FLOW_STEP_TIMEOUT: duration('5m'),
  /** A claim's lease is the step's deadline plus this margin; past it the step counts as lost. */
  FLOW_LEASE_MARGIN: duration('30s'),
  /** How often each replica sweeps due timers, expired leases, unclaimed steps and overdue executions. */
  FLOW_SWEEP_INTERVAL: duration('1s'),
  /** A scheduled step no worker claimed for this long gets its command issued again. */
  FLOW_UNCLAIMED_AFTER: duration('30s'),
});

export type FlowEngineConfig = z.infer<typeof flowEngineConfigSchema>;
