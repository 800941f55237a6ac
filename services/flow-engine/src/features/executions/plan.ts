// The durable half's view of the pure core: which flowlets run first, which follow a finished
// one, how a map/condition/action input is evaluated, and the retry policy of a step.
//
// ADAPTER to the pure half: expressions are the CEL module on the compiled flow
// (flows/definition/compile.ts, expressions/). The graph walk and retry delay below are the
// smallest equivalent of the planner and retry policy (executions/planner.ts, retry-policy.ts)
// until those land; each is then replaced by a call into them, and nothing outside this file knows.
import { evaluate, evaluateBool } from '../../expressions';
import { compileFlow } from '../flows/definition/compile';
import type { CompiledExprs, CompiledFlow } from '../flows/definition/compiled';
import type { Edge, FlowDefinition, Flowlet, Json, RetryPolicy } from '../flows/definition/types';

export interface EvalScope {
  input: Json;
  /** The output of every step that succeeded so far (`steps.<id>` in CEL is that output). */
  steps: Record<string, { output: Json }>;
  trigger: Json;
}

export function flowletOf(def: FlowDefinition, id: string): Flowlet {
  const f = def.flowlets.find((x) => x.id === id);
  if (!f) throw new Error(`flowlet ${id} is not in the definition`);
  return f;
}

/** Flowlets no edge leads to: where an execution starts. */
export function entrySteps(def: FlowDefinition): string[] {
  const targets = new Set(def.edges.map((e) => e.to));
  return def.flowlets.filter((f) => !targets.has(f.id)).map((f) => f.id);
}

/**
 * Flowlets that follow `from` once it succeeded with `output`. A condition follows only the edges
 * of the branch it chose (`output.branch`). A flowlet with several incoming edges runs once, when
 * the first of them fires (the store dedupes on (execution, step)).
 */
export function nextSteps(def: FlowDefinition, from: string, output: Json): string[] {
  const f = flowletOf(def, from);
  const out: Edge[] = def.edges.filter((e) => e.from === from);
  if (f.kind === 'condition') {
    const branch = output && typeof output === 'object' && !Array.isArray(output) ? output.branch : undefined;
    return out.filter((e) => e.branch === branch).map((e) => e.to);
  }
  return out.map((e) => e.to);
}

/** Retry policy of a flowlet, the engine defaults applied (by compile). */
export function retryPolicyOf(def: FlowDefinition, stepId: string): RetryPolicy {
  const f = compiledFlow(def).flowlets.get(stepId);
  if (!f) throw new Error(`flowlet ${stepId} is not in the definition`);
  return f.retry;
}

/** Delay before attempt `nextAttempt` (2 = first retry): the pure half's retry policy. */
export { retryDelayMs } from './retry-policy';

// ---- expressions: the CEL module, through the compiled flow ------------------------------------
// A definition is compiled (schema, graph, CEL type-check) once per process and definition text;
// an execution's definition is the pinned version's, so the cache only ever grows by versions.

const compiledCache = new Map<string, CompiledFlow>();
const CACHE_MAX = 500;

export class ExpressionFailure extends Error {
  readonly code = 'EXPRESSION_ERROR';
}

export function compiledFlow(def: FlowDefinition): CompiledFlow {
  const key = JSON.stringify(def);
  const hit = compiledCache.get(key);
  if (hit) return hit;
  const r = compileFlow(def);
  if (!r.ok)
    throw new ExpressionFailure(
      `definition does not compile: ${r.problems.map((p) => `${p.pointer} ${p.code}`).join('; ')}`,
    );
  if (compiledCache.size >= CACHE_MAX) compiledCache.delete(compiledCache.keys().next().value!);
  compiledCache.set(key, r.flow);
  return r.flow;
}

function bindings(scope: EvalScope): Record<string, Json> {
  const steps: Record<string, Json> = {};
  for (const [id, s] of Object.entries(scope.steps)) steps[id] = s.output;
  return { input: scope.input, steps, trigger: scope.trigger };
}

function evalAll(exprs: CompiledExprs, scope: EvalScope): Record<string, Json> {
  const b = bindings(scope);
  const out: Record<string, Json> = {};
  for (const [k, e] of Object.entries(exprs)) {
    const r = evaluate(e, b);
    if (!r.ok) throw new ExpressionFailure(r.error.message);
    out[k] = r.value;
  }
  return out;
}

/** An action's operation input, or a map's output: each field's CEL evaluated. */
export function evaluateFields(def: FlowDefinition, stepId: string, scope: EvalScope): Record<string, Json> {
  const f = compiledFlow(def).flowlets.get(stepId);
  if (f?.kind === 'action') return evalAll(f.input, scope);
  if (f?.kind === 'map') return evalAll(f.output, scope);
  throw new ExpressionFailure(`flowlet ${stepId} has no fields to evaluate`);
}

/** The branch a condition takes: the first whose `when` is true, else `otherwise` (null: none). */
export function chooseBranch(def: FlowDefinition, stepId: string, scope: EvalScope): string | null {
  const f = compiledFlow(def).flowlets.get(stepId);
  if (f?.kind !== 'condition') throw new ExpressionFailure(`flowlet ${stepId} is not a condition`);
  const b = bindings(scope);
  for (const br of f.branches) {
    const r = evaluateBool(br.when, b);
    if (!r.ok) throw new ExpressionFailure(r.error.message);
    if (r.value) return br.id;
  }
  return f.otherwise ?? null;
}
