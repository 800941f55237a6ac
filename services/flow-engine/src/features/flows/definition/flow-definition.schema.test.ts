import { echoFlow, invoiceFlow } from './examples';
import { schemaProblems } from './flow-definition.schema';

type Mutable = Record<string, unknown> & { flowlets: Record<string, unknown>[]; triggers: Record<string, unknown>[] };
const mutable = (d: unknown): Mutable => JSON.parse(JSON.stringify(d)) as Mutable;

describe('proto/flow-definition.v1.schema.json', () => {
  it.each([
    ['invoice (every flowlet kind)', invoiceFlow()],
    ['echo (every trigger kind)', echoFlow()],
  ])('accepts the example %s', (_name, def) => {
    expect(schemaProblems(def)).toEqual([]);
  });

  const bad: [string, (d: Mutable) => void, string, string][] = [
    ['missing purpose', (d) => delete d.purpose, '/purpose', 'required'],
    ['unknown top-level property', (d) => (d.script = 'x'), '/script', 'unknown_property'],
    ['wrong schema id', (d) => (d.schema = 'flow-definition.v2'), '/schema', 'schema_const'],
    ['bad legal basis', (d) => (d.legalBasis = 'because'), '/legalBasis', 'schema_enum'],
    ['flowlet id with capitals', (d) => (d.flowlets[0]!.id = 'Prepare'), '/flowlets/0/id', 'schema_pattern'],
    ['unknown flowlet kind', (d) => (d.flowlets[0]!.kind = 'javascript'), '/flowlets/0/kind', 'schema_enum'],
    ['map without output', (d) => delete d.flowlets[0]!.output, '/flowlets/0/output', 'required'],
    ['javascript smuggled into a map', (d) => (d.flowlets[0]!.code = 'x'), '/flowlets/0/code', 'unknown_property'],
    [
      'CEL not a string',
      (d) => ((d.flowlets[0]!.output as Record<string, unknown>).total = 5),
      '/flowlets/0/output/total',
      'schema_type',
    ],
    [
      'CEL too long',
      (d) => ((d.flowlets[0]!.output as Record<string, unknown>).total = 'x'.repeat(5000)),
      '/flowlets/0/output/total',
      'schema_maxLength',
    ],
    [
      'foreach maxItems above the hard maximum',
      (d) => (d.flowlets[2]!.maxItems = 1_000_000),
      '/flowlets/2/maxItems',
      'schema_maximum',
    ],
    [
      'foreach body a condition',
      (d) => (d.flowlets[2]!.body = { id: 'b', kind: 'condition', branches: [] }),
      '/flowlets/2/body/kind',
      'schema_enum',
    ],
    ['approval without timeout', (d) => delete d.flowlets[3]!.timeoutMs, '/flowlets/3/timeoutMs', 'required'],
    [
      'approval with no approvers',
      (d) => (d.flowlets[3]!.approvers = {}),
      '/flowlets/3/approvers',
      'schema_minProperties',
    ],
    ['delay with neither delayMs nor until', (d) => delete d.flowlets[5]!.delayMs, '/flowlets/5', 'schema_oneOf'],
    ['schedule without cron', (d) => (d.triggers[0] = { id: 't', kind: 'schedule' }), '/triggers/0/cron', 'required'],
    [
      'manual trigger with extra property',
      (d) => (d.triggers[0] = { id: 't', kind: 'manual', cron: '* * * * *' }),
      '/triggers/0/cron',
      'unknown_property',
    ],
    [
      'input schema not an object schema',
      (d) => (d.inputSchema = { type: 'string' }),
      '/inputSchema/type',
      'schema_const',
    ],
    ['no flowlets', (d) => (d.flowlets = []), '/flowlets', 'schema_minItems'],
  ];
  it.each(bad)('refuses %s, at its pointer', (_name, mutate, pointer, code) => {
    const d = mutable(invoiceFlow());
    mutate(d);
    expect(schemaProblems(d)).toContainEqual(expect.objectContaining({ pointer, code }));
  });

  it('reports every problem, not just the first', () => {
    const d = mutable(invoiceFlow());
    delete d.purpose;
    d.flowlets[0]!.id = 'Bad';
    d.flowlets[3]!.onTimeout = 'escalate';
    const pointers = schemaProblems(d).map((p) => p.pointer);
    expect(pointers).toEqual(expect.arrayContaining(['/purpose', '/flowlets/0/id', '/flowlets/3/onTimeout']));
  });

  it('never echoes the offending value in a message', () => {
    const d = mutable(invoiceFlow());
    d.legalBasis = 'sk_live_SECRET_VALUE';
    expect(JSON.stringify(schemaProblems(d))).not.toContain('SECRET_VALUE');
  });
});
