import { echoFlow, invoiceFlow } from './examples';
import { compileFlow, validateDefinition } from './validate';
import type { FlowDefinition } from './types';

type Def = FlowDefinition & Record<string, unknown>;
const clone = (d: FlowDefinition): Def => JSON.parse(JSON.stringify(d)) as Def;
const problemsOf = (d: unknown) => validateDefinition(d);

describe('compileFlow: a valid definition becomes a checked plan', () => {
  it('orders flowlets topologically, finds the entries and resolves retry defaults', () => {
    const r = compileFlow(invoiceFlow());
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.flow.entries).toEqual(['prepare']);
    expect(r.flow.order.indexOf('prepare')).toBeLessThan(r.flow.order.indexOf('route'));
    expect(r.flow.order.indexOf('review')).toBeLessThan(r.flow.order.indexOf('send'));
    const send = r.flow.flowlets.get('send')!;
    expect(send.retry).toEqual({ maxAttempts: 3, initialDelayMs: 1000, factor: 2, maxDelayMs: 300_000 });
    expect(r.flow.flowlets.get('prepare')!.outputType).toEqual({
      kind: 'object',
      closed: true,
      fields: { total: { kind: 'double' }, client: { kind: 'string' }, count: { kind: 'int' } },
    });
    expect(r.flow.flowlets.get('lines')!.outputType.kind).toBe('list');
  });

  it('compiles the smallest flow', () => {
    expect(compileFlow(echoFlow()).ok).toBe(true);
  });
});

describe('validateDefinition reports every problem with its JSON pointer', () => {
  it('schema problems come first, all of them', () => {
    const d = clone(invoiceFlow());
    delete (d as Partial<Def>).purpose;
    (d.flowlets[0] as { id: string }).id = 'Bad Id';
    expect(problemsOf(d).map((p) => p.pointer)).toEqual(expect.arrayContaining(['/purpose', '/flowlets/0/id']));
  });

  it.each<[string, (d: Def) => void, string, string]>([
    ['duplicate flowlet ids', (d) => (d.flowlets[1]!.id = 'prepare'), '/flowlets/1/id', 'duplicate_id'],
    [
      'edge to an unknown flowlet',
      (d) => d.edges.push({ from: 'send', to: 'nowhere' }),
      '/edges/5/to',
      'unknown_flowlet',
    ],
    [
      'edge from an unknown flowlet',
      (d) => d.edges.push({ from: 'ghost', to: 'send' }),
      '/edges/5/from',
      'unknown_flowlet',
    ],
    ['self edge', (d) => d.edges.push({ from: 'send', to: 'send' }), '/edges/5', 'self_edge'],
    ['duplicate edge', (d) => d.edges.push({ from: 'prepare', to: 'route' }), '/edges/5', 'duplicate_edge'],
    ['a cycle', (d) => d.edges.push({ from: 'send', to: 'prepare' }), '/edges/5', 'cycle'],
    ['condition edge without branch', (d) => delete d.edges[1]!.branch, '/edges/1/branch', 'branch_required'],
    [
      'condition edge with an unknown branch',
      (d) => (d.edges[1]!.branch = 'medium'),
      '/edges/1/branch',
      'unknown_branch',
    ],
    ['branch on a non-condition edge', (d) => (d.edges[0]!.branch = 'big'), '/edges/0/branch', 'branch_not_allowed'],
    ['`on` on a non-approval edge', (d) => (d.edges[0]!.on = 'approved'), '/edges/0/on', 'on_not_allowed'],
    [
      'duplicate branch ids',
      (d) => ((d.flowlets[1] as { branches: unknown[] }).branches.push({ id: 'big', when: 'true' }), undefined),
      '/flowlets/1/branches/1/id',
      'duplicate_branch',
    ],
    [
      'foreach above the engine maximum',
      (d) => ((d.flowlets[2] as { maxItems: number }).maxItems = 5000),
      '/flowlets/2/maxItems',
      'foreach_too_large',
    ],
    [
      'N of M approvals with fewer users',
      (d) => Object.assign(d.flowlets[3]!, { approvers: { users: ['usr_01jd0000000000000000000000'] }, required: 2 }),
      '/flowlets/3/required',
      'approvals_unreachable',
    ],
    [
      'retry on an approval',
      (d) => Object.assign(d.flowlets[3]!, { retry: { maxAttempts: 2 } }),
      '/flowlets/3/retry',
      'not_retryable',
    ],
    [
      'CEL syntax error in a map',
      (d) => ((d.flowlets[0] as { output: Record<string, string> }).output.total = 'input.amount *'),
      '/flowlets/0/output/total',
      'cel_syntax',
    ],
    [
      'CEL unknown input field',
      (d) => ((d.flowlets[0] as { output: Record<string, string> }).output.client = 'input.clinet'),
      '/flowlets/0/output/client',
      'unknown_field',
    ],
    [
      'CEL type error',
      (d) => ((d.flowlets[0] as { output: Record<string, string> }).output.total = 'input.amount * 2'),
      '/flowlets/0/output/total',
      'type_mismatch',
    ],
    [
      'a step that is not upstream',
      (d) => ((d.flowlets[0] as { output: Record<string, string> }).output.client = 'steps.send.status'),
      '/flowlets/0/output/client',
      'unknown_field',
    ],
    [
      'a field the upstream map does not produce',
      (d) => ((d.flowlets[4] as { input: Record<string, string> }).input.message = 'steps.prepare.totl'),
      '/flowlets/4/input/message',
      'unknown_field',
    ],
    [
      'a condition that is not a boolean',
      (d) => ((d.flowlets[1] as { branches: { when: string }[] }).branches[0]!.when = 'steps.prepare.total'),
      '/flowlets/1/branches/0/when',
      'type_mismatch',
    ],
    [
      'foreach over a non-list',
      (d) => ((d.flowlets[2] as { items: string }).items = 'input.client'),
      '/flowlets/2/items',
      'type_mismatch',
    ],
    [
      'item used outside a foreach body',
      (d) => ((d.flowlets[0] as { output: Record<string, string> }).output.client = 'item.description'),
      '/flowlets/0/output/client',
      'unknown_variable',
    ],
    [
      'an unknown field of item in a foreach body',
      (d) => ((d.flowlets[2] as { body: { output: Record<string, string> } }).body.output.text = 'item.descr'),
      '/flowlets/2/body/output/text',
      'unknown_field',
    ],
    [
      'summary expression error',
      (d) => ((d.flowlets[3] as { summary: Record<string, string> }).summary.client = 'steps.prepare.client +'),
      '/flowlets/3/summary/client',
      'cel_syntax',
    ],
  ])('%s', (_name, mutate, pointer, code) => {
    const d = clone(invoiceFlow());
    mutate(d);
    expect(problemsOf(d)).toContainEqual(expect.objectContaining({ pointer, code }));
  });

  it('an unknown field of an open input schema is allowed (checked at run time)', () => {
    const d = clone(echoFlow());
    (d.flowlets[0] as { input: Record<string, string> }).input.message = 'input.anything';
    expect(problemsOf(d)).toEqual([]);
  });

  it('several CEL problems in different flowlets are all reported', () => {
    const d = clone(invoiceFlow());
    (d.flowlets[0] as { output: Record<string, string> }).output.total = 'input.amount * 2';
    (d.flowlets[3] as { summary: Record<string, string> }).summary.client = 'nope';
    (d.flowlets[4] as { input: Record<string, string> }).input.message = '1 +';
    expect(problemsOf(d).map((p) => p.pointer)).toEqual(
      expect.arrayContaining(['/flowlets/0/output/total', '/flowlets/3/summary/client', '/flowlets/4/input/message']),
    );
  });

  it('a graph where every flowlet has an incoming edge has no entry', () => {
    const d = clone(echoFlow());
    d.flowlets.push({ id: 'two', kind: 'map', output: { a: '1' } });
    d.edges.push({ from: 'echo', to: 'two' }, { from: 'two', to: 'echo' });
    const codes = problemsOf(d).map((p) => p.code);
    expect(codes).toContain('cycle');
    expect(codes).toContain('no_entry');
  });

  it('a problem in an output expression points at its key', () => {
    const d = clone(echoFlow());
    d.flowlets[0] = { id: 'm', kind: 'map', output: { a_b: 'nope' } };
    expect(problemsOf(d)[0]?.pointer).toBe('/flowlets/0/output/a_b');
  });
});
