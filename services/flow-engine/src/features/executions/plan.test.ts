import { chooseBranch, entrySteps, evaluateFields, nextSteps, retryDelayMs } from './plan';
import type { FlowDefinition } from '../flows/definition/types';

const policy = { maxAttempts: 5, initialDelayMs: 1_000, factor: 2, maxDelayMs: 5_000 };

test('retry delays grow by the factor, are capped, and use full jitter', () => {
  expect([2, 3, 4, 5].map((n) => retryDelayMs(policy, n, () => 0.999999))).toEqual([999, 1999, 3999, 4999]);
  expect(retryDelayMs(policy, 3, () => 0)).toBe(0);
  expect(retryDelayMs(policy, 3, () => 0.5)).toBe(1_000);
});

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

test('entry steps, and a condition follows only the chosen branch (CEL on the compiled flow)', () => {
  expect(entrySteps(def)).toEqual(['a']);
  expect(nextSteps(def, 'a', {})).toEqual(['c']);
  expect(nextSteps(def, 'c', { branch: 'yes' })).toEqual(['y']);
  expect(nextSteps(def, 'c', { branch: 'no' })).toEqual(['n']);
  expect(nextSteps(def, 'c', { branch: null })).toEqual([]);
  const scope = (n: number) => ({ input: { n }, steps: { a: { output: { twice: n * 2 } } }, trigger: null });
  expect(evaluateFields(def, 'a', scope(3))).toEqual({ twice: 6 });
  expect(chooseBranch(def, 'c', scope(2))).toBe('yes');
  expect(chooseBranch(def, 'c', scope(0))).toBe('no');
});

test('an expression failing on the data is an EXPRESSION_ERROR, not a crash', () => {
  const bad = { input: { n: 'not a number' }, steps: {}, trigger: null };
  expect(() => evaluateFields(def, 'a', bad)).toThrow(expect.objectContaining({ code: 'EXPRESSION_ERROR' }));
});
