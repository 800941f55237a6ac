import { compiledFlow, stepsView } from './plan';
import { planNext } from './planner';
import type { FlowDefinition } from '../flows/definition/types';

const def: FlowDefinition = {
  schema: 'flow-definition.v1',
  name: 'plan test',
  purpose: 'tests',
  legalBasis: 'contract',
  inputSchema: { type: 'object', properties: { n: { type: 'number' } } },
  triggers: [{ id: 'manual', kind: 'manual' }],
  flowlets: [
    { id: 'a', kind: 'map', output: { twice: 'input.n * 2.0' } },
    { id: 'c', kind: 'condition', branches: [{ id: 'yes', when: 'steps.a.twice > 2.0' }], otherwise: 'no' },
    { id: 'y', kind: 'map', output: {} },
    { id: 'n', kind: 'map', output: {} },
  ],
  edges: [
    { from: 'a', to: 'c' },
    { from: 'c', to: 'y', branch: 'yes' },
    { from: 'c', to: 'n', branch: 'no' },
  ],
};

const row = (
  step_id: string,
  seq: number,
  status: Parameters<typeof stepsView>[0][number]['status'],
  output = null,
) => ({
  step_id,
  seq,
  status,
  output,
});

test('the stored rows map onto the step machine: the latest row counts, an open timer is retry_wait', () => {
  const v = stepsView(
    [row('a', 1, 'failed'), row('a', 2, 'lost'), row('c', 1, 'rate_limited'), row('y', 1, 'timed_out')],
    new Set(['y']),
  );
  expect(v.a!.status).toBe('scheduled'); // a lost worker's row is followed by a new one
  expect(v.c!.status).toBe('retry_wait');
  expect(v.y!.status).toBe('retry_wait'); // timed out, with a retry timer
  expect(stepsView([row('y', 1, 'timed_out')], new Set()).y!.status).toBe('failed');
});

test('the planner on stored rows: a retry pending holds the execution; a branch not taken is skipped', () => {
  const flow = compiledFlow(def);
  expect(planNext(flow, stepsView([], new Set())).ready).toEqual(['a']);
  const waiting = planNext(flow, stepsView([row('a', 1, 'failed')], new Set(['a'])));
  expect(waiting.finished).toBeNull();
  const done = stepsView(
    [
      { step_id: 'a', seq: 1, status: 'succeeded', output: null },
      { ...row('c', 1, 'succeeded'), output: { branch: 'no' } as never },
    ],
    new Set(),
  );
  expect(planNext(flow, done)).toMatchObject({ ready: ['n'], skip: ['y'] });
});
