// Example flow definitions: valid ones every kind of flowlet appears in, shared by the unit tests
// of both halves of the engine (and the engine helper's integration tests).
import type { FlowDefinition } from './types';

/** map → condition → (foreach | approval → action) → echo; every flowlet kind once. */
export function invoiceFlow(): FlowDefinition {
  return {
    schema: 'flow-definition.v1',
    name: 'Invoice approval',
    purpose: 'Bill clients for time entries',
    legalBasis: 'contract',
    inputSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['client', 'amount', 'lines'],
      properties: {
        client: { type: 'string' },
        amount: { type: 'number' },
        ssn: { type: 'string', 'x-flow8-sensitive': 'ssn' },
        lines: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            properties: { description: { type: 'string' }, hours: { type: 'number' } },
          },
        },
      },
    },
    triggers: [{ id: 'manual', kind: 'manual' }],
    flowlets: [
      {
        id: 'prepare',
        kind: 'map',
        output: { total: 'input.amount * 1.2', client: 'input.client', count: 'size(input.lines)' },
      },
      {
        id: 'route',
        kind: 'condition',
        branches: [{ id: 'big', when: 'steps.prepare.total > 1000.0' }],
        otherwise: 'small',
      },
      {
        id: 'lines',
        kind: 'foreach',
        items: 'input.lines',
        maxItems: 100,
        body: { id: 'line', kind: 'map', output: { n: 'index', text: 'item.description' } },
      },
      {
        id: 'review',
        kind: 'approval',
        approvers: { roles: ['admin'] },
        excludeTriggerer: true,
        summary: { client: 'steps.prepare.client', total: 'string(steps.prepare.total)' },
        timeoutMs: 86_400_000,
        onTimeout: 'reject',
      },
      {
        id: 'send',
        kind: 'action',
        integration: 'test',
        operation: 'echo',
        input: { message: '"invoice for " + steps.prepare.client' },
        retry: { maxAttempts: 3 },
      },
      { id: 'cool_off', kind: 'delay', delayMs: 1000 },
    ],
    edges: [
      { from: 'prepare', to: 'route' },
      { from: 'route', to: 'lines', branch: 'small' },
      { from: 'route', to: 'review', branch: 'big' },
      { from: 'review', to: 'send', on: 'approved' },
      { from: 'review', to: 'cool_off', on: 'rejected' },
    ],
  };
}

/** The smallest valid flow: one echo action. */
export function echoFlow(): FlowDefinition {
  return {
    schema: 'flow-definition.v1',
    name: 'Echo',
    purpose: 'Test',
    legalBasis: 'legitimate_interests',
    inputSchema: { type: 'object', properties: { message: { type: 'string' } } },
    triggers: [
      { id: 'manual', kind: 'manual' },
      { id: 'nightly', kind: 'schedule', cron: '0 2 * * *', timezone: 'Europe/Paris', missedFires: 'run_once' },
      { id: 'hook', kind: 'webhook', allowedSources: ['203.0.113.0/24'] },
    ],
    flowlets: [
      { id: 'echo', kind: 'action', integration: 'test', operation: 'echo', input: { message: 'input.message' } },
    ],
    edges: [],
  };
}
