// API for the engine — definition → checked plan (pure):
//   validateDefinition(raw, options?) → DefinitionProblem[]   every problem, each with its JSON pointer
//   compileFlow(raw, options?) → { ok: true, flow: CompiledFlow } | { ok: false, problems }
//       run at save (the problems go back to the designer) and when a stored version is loaded
//       to execute it (a stored version compiles: it was checked at save; re-compiling gives the
//       CEL programs, which are not serialisable).
//   CompileOptions: maxForeachItems (engine maximum), defaultRetry, operationOutputType(integration, op).
// Rules: flowlets without incoming edges are the entries (at least one); a flowlet with several
// incoming edges runs once all of them are settled and at least one was taken (planner.ts).
import {
  DYN,
  T,
  compileExpression,
  expectType,
  typeFromJsonSchema,
  type CompiledExpression,
  type ExpressionLimits,
  type TypeDesc,
} from '../../../expressions';
import type { CompiledBody, CompiledExprs, CompiledFlow, CompiledFlowlet } from './compiled';
import { pointerToken, schemaProblems } from './flow-definition.schema';
import type { DefinitionProblem, Edge, Flowlet, FlowDefinition, RetryPolicy } from './types';

export interface CompileOptions {
  /** Engine-wide cap on a foreach list (a definition's maxItems must not exceed it). */
  maxForeachItems: number;
  /** Retry policy for fields a flowlet leaves out. */
  defaultRetry: RetryPolicy;
  /** The output type of a connector operation, when its schema is known; dyn otherwise. */
  operationOutputType?: (integration: string, operation: string) => TypeDesc | undefined;
  limits?: ExpressionLimits;
}

export const DEFAULT_COMPILE_OPTIONS: CompileOptions = {
  maxForeachItems: 1000,
  defaultRetry: { maxAttempts: 5, initialDelayMs: 1000, factor: 2, maxDelayMs: 300_000 },
};

export type CompileFlowResult = { ok: true; flow: CompiledFlow } | { ok: false; problems: DefinitionProblem[] };

export function validateDefinition(raw: unknown, options: Partial<CompileOptions> = {}): DefinitionProblem[] {
  const r = compileFlow(raw, options);
  return r.ok ? [] : r.problems;
}

const TRIGGER_TYPE = T.object({ id: T.string, kind: T.string }, false, 'trigger');
const APPROVAL_TYPE = T.object({ approved: T.bool, decision: T.string, timedOut: T.bool }, true, 'an approval result');
const CONDITION_TYPE = T.object({ branch: DYN }, true, 'a condition result');

export function compileFlow(raw: unknown, opts: Partial<CompileOptions> = {}): CompileFlowResult {
  const options: CompileOptions = { ...DEFAULT_COMPILE_OPTIONS, ...opts };
  // Structure first: the graph and CEL checks below rely on the shape.
  const structural = schemaProblems(raw);
  if (structural.length > 0) return { ok: false, problems: structural };
  const def = raw as FlowDefinition;
  const problems: DefinitionProblem[] = [];
  const problem = (pointer: string, code: string, message: string): void => {
    problems.push({ pointer, code, message });
  };
  /** Records a problem and answers false (the edge is not usable). */
  const bad = (pointer: string, code: string, message: string): false => (problem(pointer, code, message), false);

  // --- ids -------------------------------------------------------------------------------------
  const byId = new Map<string, { flowlet: Flowlet; index: number }>();
  def.flowlets.forEach((f, index) => {
    if (byId.has(f.id)) problem(`/flowlets/${index}/id`, 'duplicate_id', `flowlet id '${f.id}' is used twice`);
    else byId.set(f.id, { flowlet: f, index });
  });
  def.flowlets.forEach((f, index) => {
    if (f.kind === 'foreach' && byId.has(f.body.id)) {
      problem(`/flowlets/${index}/body/id`, 'duplicate_id', `the body id '${f.body.id}' is also a flowlet id`);
    }
  });
  const triggerIds = new Set<string>();
  def.triggers.forEach((t, i) => {
    if (triggerIds.has(t.id)) problem(`/triggers/${i}/id`, 'duplicate_id', `trigger id '${t.id}' is used twice`);
    triggerIds.add(t.id);
  });

  // --- per-kind constraints --------------------------------------------------------------------
  def.flowlets.forEach((f, i) => {
    const at = `/flowlets/${i}`;
    switch (f.kind) {
      case 'condition': {
        const seen = new Set<string>();
        f.branches.forEach((b, j) => {
          if (seen.has(b.id))
            problem(`${at}/branches/${j}/id`, 'duplicate_branch', `branch '${b.id}' is declared twice`);
          seen.add(b.id);
        });
        if (f.otherwise !== undefined && seen.has(f.otherwise)) {
          problem(`${at}/otherwise`, 'duplicate_branch', `'${f.otherwise}' is already a branch id`);
        }
        if (f.retry !== undefined) problem(`${at}/retry`, 'not_retryable', 'a condition is not retried');
        break;
      }
      case 'approval': {
        const users = f.approvers.users?.length ?? 0;
        const onlyUsers = users > 0 && f.approvers.roles === undefined && f.approvers.grant === undefined;
        if (onlyUsers && (f.required ?? 1) > users) {
          problem(
            `${at}/required`,
            'approvals_unreachable',
            `needs ${f.required} approvals but names only ${users} approvers`,
          );
        }
        if (f.retry !== undefined) problem(`${at}/retry`, 'not_retryable', 'an approval is not retried');
        break;
      }
      case 'foreach':
        if (f.maxItems > options.maxForeachItems) {
          problem(
            `${at}/maxItems`,
            'foreach_too_large',
            `at most ${options.maxForeachItems} items per foreach on this engine`,
          );
        }
        if (f.concurrency !== undefined && f.concurrency > f.maxItems) {
          problem(`${at}/concurrency`, 'foreach_concurrency', 'concurrency cannot exceed maxItems');
        }
        break;
      case 'delay':
        if (f.retry !== undefined) problem(`${at}/retry`, 'not_retryable', 'a delay is not retried');
        break;
      default:
        break;
    }
  });

  // --- edges -----------------------------------------------------------------------------------
  const incoming = new Map<string, Edge[]>();
  const outgoing = new Map<string, Edge[]>();
  for (const id of byId.keys()) {
    incoming.set(id, []);
    outgoing.set(id, []);
  }
  const edgeKeys = new Set<string>();
  const goodEdges: { edge: Edge; index: number }[] = [];
  def.edges.forEach((e, i) => {
    const at = `/edges/${i}`;
    let ok = true;
    const from = byId.get(e.from);
    const to = byId.get(e.to);
    if (!from) ok = bad(`${at}/from`, 'unknown_flowlet', `no flowlet '${e.from}'`);
    if (!to) ok = bad(`${at}/to`, 'unknown_flowlet', `no flowlet '${e.to}'`);
    if (e.from === e.to) ok = bad(at, 'self_edge', 'a flowlet cannot follow itself');
    const key = `${e.from}\u0000${e.to}\u0000${e.branch ?? ''}\u0000${e.on ?? ''}`;
    if (edgeKeys.has(key)) ok = bad(at, 'duplicate_edge', 'this edge is declared twice');
    edgeKeys.add(key);
    if (from) {
      const f = from.flowlet;
      if (f.kind === 'condition') {
        const ids = [...f.branches.map((b) => b.id), ...(f.otherwise !== undefined ? [f.otherwise] : [])];
        if (e.branch === undefined) {
          ok = bad(
            `${at}/branch`,
            'branch_required',
            `an edge from condition '${f.id}' names the branch it follows (${ids.join(', ')})`,
          );
        } else if (!ids.includes(e.branch)) {
          ok = bad(
            `${at}/branch`,
            'unknown_branch',
            `condition '${f.id}' has no branch '${e.branch}' (has: ${ids.join(', ')})`,
          );
        }
      } else if (e.branch !== undefined) {
        ok = bad(`${at}/branch`, 'branch_not_allowed', `'${f.id}' is not a condition`);
      }
      if (e.on !== undefined && f.kind !== 'approval') {
        ok = bad(`${at}/on`, 'on_not_allowed', `'${f.id}' is not an approval`);
      }
    }
    if (ok) {
      goodEdges.push({ edge: e, index: i });
      outgoing.get(e.from)!.push(e);
      incoming.get(e.to)!.push(e);
    }
  });

  // --- cycles and order (Kahn; ties in definition order) ---------------------------------------
  const indegree = new Map([...byId.keys()].map((id) => [id, incoming.get(id)!.length]));
  const order: string[] = [];
  const ready = [...byId.keys()].filter((id) => indegree.get(id) === 0);
  const entries = [...ready];
  while (ready.length > 0) {
    const id = ready.shift()!;
    order.push(id);
    for (const e of outgoing.get(id)!) {
      const d = indegree.get(e.to)! - 1;
      indegree.set(e.to, d);
      if (d === 0) ready.push(e.to);
    }
  }
  if (order.length < byId.size) {
    const inCycle = new Set([...byId.keys()].filter((id) => !order.includes(id)));
    for (const { edge, index } of goodEdges) {
      if (inCycle.has(edge.from) && inCycle.has(edge.to)) {
        problem(
          `/edges/${index}`,
          'cycle',
          `edge ${edge.from} → ${edge.to} is part of a cycle: flows are acyclic (use foreach to repeat)`,
        );
      }
    }
  }
  if (entries.length === 0 && byId.size > 0)
    problem('/edges', 'no_entry', 'every flowlet has an incoming edge: nothing can start');

  if (problems.length > 0) {
    // CEL checks need the graph (which steps come before which); report what we have.
    return { ok: false, problems };
  }

  // --- CEL, in topological order so each flowlet sees the output types of its ancestors --------
  const inputType = typeFromJsonSchema(def.inputSchema);
  const ancestors = new Map<string, Set<string>>();
  const outputTypes = new Map<string, TypeDesc>();
  const compiled = new Map<string, CompiledFlowlet>();
  const limits = options.limits;

  const compileOne = (source: string, pointer: string, flowletId: string, scope: Record<string, TypeDesc>) => {
    const r = compileExpression(source, scope, { flowletId, pointer }, limits);
    if (!r.ok) {
      for (const p of r.problems) problem(pointer, p.code, p.message);
      return undefined;
    }
    return r.expr;
  };
  const compileObject = (
    obj: Record<string, string>,
    base: string,
    flowletId: string,
    scope: Record<string, TypeDesc>,
  ) => {
    const out: CompiledExprs = {};
    for (const [k, src] of Object.entries(obj)) {
      const e = compileOne(src, `${base}/${pointerToken(k)}`, flowletId, scope);
      if (e) out[k] = e;
    }
    return out;
  };
  const objectType = (exprs: CompiledExprs): TypeDesc =>
    T.object(Object.fromEntries(Object.entries(exprs).map(([k, e]) => [k, e.type])), true);

  for (const id of order) {
    const { flowlet: f, index } = byId.get(id)!;
    const anc = new Set<string>();
    for (const e of incoming.get(id)!) {
      anc.add(e.from);
      for (const a of ancestors.get(e.from)!) anc.add(a);
    }
    ancestors.set(id, anc);
    const stepsType = T.object(
      Object.fromEntries([...anc].sort().map((a) => [a, outputTypes.get(a) ?? DYN])),
      true,
      'steps',
    );
    const scope: Record<string, TypeDesc> = { input: inputType, steps: stepsType, trigger: TRIGGER_TYPE };
    const at = `/flowlets/${index}`;
    const retry: RetryPolicy = { ...options.defaultRetry, ...(f.retry ?? {}) };
    const base = {
      id,
      index,
      incoming: incoming.get(id)!,
      outgoing: outgoing.get(id)!,
      ancestors: [...anc].sort(),
      retry,
      timeoutMs: f.timeoutMs,
    };
    let c: CompiledFlowlet;
    switch (f.kind) {
      case 'action': {
        const input = compileObject(f.input, `${at}/input`, id, scope);
        c = {
          ...base,
          kind: 'action',
          flowlet: f,
          input,
          outputType: options.operationOutputType?.(f.integration, f.operation) ?? DYN,
        };
        break;
      }
      case 'map': {
        const output = compileObject(f.output, `${at}/output`, id, scope);
        c = { ...base, kind: 'map', flowlet: f, output, outputType: objectType(output) };
        break;
      }
      case 'condition': {
        const branches: { id: string; when: CompiledExpression }[] = [];
        f.branches.forEach((b, j) => {
          const pointer = `${at}/branches/${j}/when`;
          const when = compileOne(b.when, pointer, id, scope);
          if (!when) return;
          const wrong = expectType(when, ['bool']);
          if (wrong) problem(pointer, wrong.code, wrong.message);
          branches.push({ id: b.id, when });
        });
        c = { ...base, kind: 'condition', flowlet: f, branches, otherwise: f.otherwise, outputType: CONDITION_TYPE };
        break;
      }
      case 'approval': {
        const summary = compileObject(f.summary, `${at}/summary`, id, scope);
        c = { ...base, kind: 'approval', flowlet: f, summary, outputType: APPROVAL_TYPE };
        break;
      }
      case 'delay': {
        let until: CompiledExpression | undefined;
        if (f.until !== undefined) {
          until = compileOne(f.until, `${at}/until`, id, scope);
          const wrong = until && expectType(until, ['timestamp', 'string']);
          if (wrong) problem(`${at}/until`, wrong.code, wrong.message);
        }
        c = { ...base, kind: 'delay', flowlet: f, until, outputType: T.object({}, true, 'a delay result') };
        break;
      }
      case 'foreach': {
        const items = compileOne(f.items, `${at}/items`, id, scope);
        const wrong = items && expectType(items, ['list']);
        if (wrong) problem(`${at}/items`, wrong.code, wrong.message);
        const itemType = items?.type.kind === 'list' ? items.type.element : DYN;
        const bodyScope = { ...scope, item: itemType, index: T.int };
        const b = f.body;
        let body: CompiledBody;
        let bodyOut: TypeDesc;
        if (b.kind === 'action') {
          body = {
            kind: 'action',
            id: b.id,
            flowlet: b,
            input: compileObject(b.input, `${at}/body/input`, id, bodyScope),
          };
          bodyOut = options.operationOutputType?.(b.integration, b.operation) ?? DYN;
        } else {
          const output = compileObject(b.output, `${at}/body/output`, id, bodyScope);
          body = { kind: 'map', id: b.id, flowlet: b, output };
          bodyOut = objectType(output);
        }
        c = {
          ...base,
          kind: 'foreach',
          flowlet: f,
          items: items!,
          body,
          concurrency: f.concurrency ?? 1,
          outputType: T.list(bodyOut),
        };
        break;
      }
    }
    outputTypes.set(id, c.outputType);
    compiled.set(id, c);
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, flow: { definition: def, flowlets: compiled, order, entries, inputType } };
}
