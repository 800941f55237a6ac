import { compileFlow } from '../flows/definition/compile';
import type { CompiledFlow } from '../flows/definition/compiled';
import { invoiceFlow } from '../flows/definition/examples';
import type { Json } from '../flows/definition/types';
import {
  approvalSummary,
  chooseBranch,
  collectForeach,
  delayUntil,
  foreachBody,
  foreachItems,
  runMap,
} from './flowlets';
import { bindingsFor, planNext, type StepView } from './planner';

function flow(): CompiledFlow {
  const r = compileFlow(invoiceFlow());
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.flow;
}
const input = {
  client: 'ACME',
  amount: 1000,
  lines: [
    { description: 'call', hours: 1 },
    { description: 'memo', hours: 2 },
  ],
};
const trigger = { id: 'manual', kind: 'manual' };

/** Drives an execution to its end with the pure flowlets; actions echo; approvals answer `decision`. */
function drive(f: CompiledFlow, data: Json, decision: 'approve' | 'reject') {
  const steps: Record<string, StepView> = {};
  const log: string[] = [];
  for (let round = 0; round < 50; round++) {
    const p = planNext(f, steps);
    for (const id of p.skip) steps[id] = { status: 'skipped' };
    if (p.finished) return { finished: p.finished, steps, log };
    for (const id of p.ready) {
      log.push(id);
      const c = f.flowlets.get(id)!;
      const b = bindingsFor(f, id, { input: data, trigger, steps });
      const ok = (output: Json) => (steps[id] = { status: 'succeeded', output });
      switch (c.kind) {
        case 'map': {
          const r = runMap(c, b);
          if (!r.ok) throw r.error;
          ok(r.output);
          break;
        }
        case 'condition': {
          const r = chooseBranch(c, b);
          if (!r.ok) throw r.error;
          ok(r.output);
          break;
        }
        case 'foreach': {
          const items = foreachItems(c, b);
          if (!items.ok) throw items.error;
          const results = new Map<number, Json>();
          // finish out of order: results still come back in item order
          [...items.items.keys()].reverse().forEach((i) => {
            const r = foreachBody(c, b, items.items[i]!, i);
            if (!r.ok) throw r.error;
            results.set(i, r.output);
          });
          ok(collectForeach(items.items.length, results));
          break;
        }
        case 'approval': {
          const s = approvalSummary(c, b);
          if (!s.ok) throw s.error;
          log.push(`summary ${JSON.stringify(s.output)}`);
          ok({
            approved: decision === 'approve',
            decision: decision === 'approve' ? 'approved' : 'rejected',
            timedOut: false,
          });
          break;
        }
        case 'action':
          ok({ echoed: b.steps ?? null });
          break;
        case 'delay': {
          const r = delayUntil(c, b, new Date(0));
          if (!r.ok) throw r.error;
          ok({});
          break;
        }
      }
    }
  }
  throw new Error('did not finish');
}

describe('planNext over the invoice flow', () => {
  it('starts at the entry only', () => {
    expect(planNext(flow(), {})).toEqual({ ready: ['prepare'], skip: [], ambiguous: [], finished: null });
  });

  it('a small invoice takes the foreach branch and skips the approval path, collecting items in order', () => {
    const r = drive(flow(), { ...input, amount: 100 }, 'approve');
    expect(r.log).toEqual(['prepare', 'route', 'lines']);
    expect(r.steps.review?.status).toBe('skipped');
    expect(r.steps.send?.status).toBe('skipped');
    expect(r.steps.cool_off?.status).toBe('skipped');
    expect(r.finished).toEqual({
      status: 'succeeded',
      output: {
        lines: [
          { n: 0, text: 'call' },
          { n: 1, text: 'memo' },
        ],
      },
    });
  });

  it('a big invoice goes through the approval; approved → send, rejected → cool_off', () => {
    const approved = drive(flow(), input, 'approve');
    expect(approved.log).toEqual(['prepare', 'route', 'review', 'summary {"client":"ACME","total":"1200"}', 'send']);
    expect(approved.steps.cool_off?.status).toBe('skipped');
    expect(approved.finished?.status).toBe('succeeded');
    const rejected = drive(flow(), input, 'reject');
    expect(rejected.log.at(-1)).toBe('cool_off');
    expect(rejected.steps.send?.status).toBe('skipped');
  });

  it('steps.<id> holds only ancestors: the action sees prepare, route and review', () => {
    const approved = drive(flow(), input, 'approve');
    const echoed = (approved.steps.send?.output as { echoed: Record<string, Json> }).echoed;
    expect(Object.keys(echoed).sort()).toEqual(['prepare', 'review', 'route']);
    const f = flow();
    expect(f.flowlets.get('send')!.ancestors).toEqual(['prepare', 'review', 'route']);
  });

  it('nothing new starts after a failure, and the execution fails once nothing runs', () => {
    const f = flow();
    expect(planNext(f, { prepare: { status: 'failed' } })).toEqual({
      ready: [],
      skip: [],
      ambiguous: [],
      finished: { status: 'failed', failedSteps: ['prepare'] },
    });
  });

  it('an ambiguous step holds the execution', () => {
    const f = flow();
    const steps: Record<string, StepView> = {
      prepare: { status: 'succeeded', output: { total: 2000, client: 'A', count: 0 } },
      route: { status: 'succeeded', output: { branch: 'big' } },
      lines: { status: 'skipped' },
      review: { status: 'succeeded', output: { approved: true, decision: 'approved', timedOut: false } },
      cool_off: { status: 'skipped' },
      send: { status: 'ambiguous' },
    };
    expect(planNext(f, steps)).toEqual({ ready: [], skip: [], ambiguous: ['send'], finished: null });
  });

  it('a running step keeps a cancelled execution open until it settles', () => {
    const f = flow();
    expect(planNext(f, { prepare: { status: 'cancelled' } }).finished).toEqual({ status: 'cancelled' });
  });
});

describe('flowlet evaluation errors name the flowlet and expression', () => {
  it('a map whose expression fails at run time', () => {
    const f = flow();
    const c = f.flowlets.get('prepare')!;
    if (c.kind !== 'map') throw new Error('prepare is a map');
    const r = runMap(c, { input: { amount: 'not a number', client: 'x', lines: [] }, steps: {}, trigger });
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.error.message).toMatch(
        /flowlet 'prepare', expression \/flowlets\/0\/output\/total \(input\.amount \* 1\.2\)/,
      );
  });

  it('a foreach over more items than its maxItems fails instead of truncating', () => {
    const f = flow();
    const c = f.flowlets.get('lines')!;
    if (c.kind !== 'foreach') throw new Error('lines is a foreach');
    const lines = Array.from({ length: 101 }, () => ({ description: 'x', hours: 1 }));
    const r = foreachItems(c, { input: { ...input, lines }, steps: {}, trigger });
    expect(r).toMatchObject({ ok: false, error: { code: 'wrong_result_type' } });
    if (!r.ok) expect(r.error.message).toContain('at most 100');
  });

  it('the approval summary digest changes with what was shown', () => {
    const f = flow();
    const c = f.flowlets.get('review')!;
    if (c.kind !== 'approval') throw new Error('review is an approval');
    const at = (total: number) =>
      approvalSummary(c, { input, trigger, steps: { prepare: { total, client: 'ACME', count: 2 } } });
    const a = at(1200);
    const b = at(1300);
    expect(a.ok && b.ok && a.digest !== b.digest && /^[0-9a-f]{64}$/.test(a.digest)).toBe(true);
  });
});
