// What an SRE watches on the engine: are commands claimed (or deduped, stale, deferred because
// every worker is busy), how step attempts end, how executions end, how busy the pool is. Never
// per tenant or per flow: ids in labels would leak who uses the platform into every metrics store.
import { counter, observableGauge, type GaugeRegistration } from '@flow8/telemetry';
import type { WorkerPool } from './runtime/worker-pool';

const commands = counter('flow8_flow_commands', {
  description: 'Step commands handled, by result (claimed, duplicate, stale, deferred)',
  unit: '{command}',
  labels: ['result'],
});
const steps = counter('flow8_flow_step_attempts', {
  description: 'Step attempts ended, by status (succeeded, failed, rate_limited, timed_out, lost, ambiguous, waiting)',
  unit: '{attempt}',
  labels: ['status'],
});
const executions = counter('flow8_flow_executions_finished', {
  description: 'Executions that reached a final status, by status',
  unit: '{execution}',
  labels: ['status'],
});

export function createEngineMetrics(workers: WorkerPool) {
  let gauges: GaugeRegistration[] = [];
  return {
    command: (result: string) => commands.add(1, { result }),
    stepSettled: (status: string) => steps.add(1, { status }),
    executionFinished: (status: string) => executions.add(1, { status }),
    start() {
      gauges = [
        observableGauge(
          'flow8_flow_workers_active',
          { description: 'Steps running on this replica now', unit: '{step}' },
          () => [[workers.stats().active, {}]],
        ),
        observableGauge(
          'flow8_flow_workers_queued',
          { description: 'Claimed steps waiting for a worker on this replica', unit: '{step}' },
          () => [[workers.stats().queued, {}]],
        ),
      ];
    },
    stop() {
      for (const g of gauges) g.remove();
      gauges = [];
    },
  };
}
