import { chooseBranch, entrySteps, evaluate, nextSteps, retryDelayMs } from './plan';
import type { FlowDefinition } from '../flows/definition/types';

const policy = { maxAttempts: 5, initialDelayMs: 1_000, factor: 2, maxDelayMs: 5_000 };

test('retry delays grow by the factor, are capped, and use full jitter', () => {
  expect([2, 3, 4, 5].map((n) => retryDelayMs(policy, n, () => 0.999999))).toEqual([999, 1999, 3999, 4999]);
  expect(retryDelayMs(policy, 3, () => 0)).toBe(0);
  expect(retryDelayMs(policy, 3, () => 0.5)).toBe(1_000);
});

const def = {
  flowlets: [
    { id: 'a', kind: 'map', output: {} },
    { id: 'c', kind: 'condition', branches: [{ id: 'yes', when: 'input.n > 1' }], otherwise: 'no' },
    { id: 'y', kind: 'map', output: {} },
    { id: 'n', kind: 'map', output: {} },
  ],
  edges: [
    { from: 'a', to: 'c' },
    { from: 'c', to: 'y', branch: 'yes' },
    { from: 'c', to: 'n', branch: 'no' },
  ],
} as unknown as FlowDefinition;

test('entry steps, and a condition follows only the chosen branch', () => {
  expect(entrySteps(def)).toEqual(['a']);
  expect(nextSteps(def, 'a', {})).toEqual(['c']);
  expect(nextSteps(def, 'c', { branch: 'yes' })).toEqual(['y']);
  expect(nextSteps(def, 'c', { branch: 'no' })).toEqual(['n']);
  expect(nextSteps(def, 'c', { branch: null })).toEqual([]);
  const scope = { input: { n: 2 }, steps: {}, trigger: null };
  expect(chooseBranch(def.flowlets[1] as never, scope)).toBe('yes');
  expect(chooseBranch(def.flowlets[1] as never, { ...scope, input: { n: 0 } })).toBe('no');
});

test('the stand-in evaluator reads paths and literals and refuses anything else', () => {
  const scope = { input: { a: { b: 'x' } }, steps: { s: { output: { v: 3 } } }, trigger: null };
  expect(evaluate('input.a.b', scope)).toBe('x');
  expect(evaluate('steps.s.output.v >= 3', scope)).toBe(true);
  expect(evaluate("'lit'", scope)).toBe('lit');
  expect(evaluate('input.missing.deep', scope)).toBeNull();
  expect(() => evaluate('process.exit(1)', scope)).toThrow(/unsupported/);
});
