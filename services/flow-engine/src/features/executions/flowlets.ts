// API for the engine — the pure work of the flowlets that need no connector:
//   runMap(f, bindings) → { ok, output }                    a map's output object
//   actionInput(f, bindings) → { ok, output }               an action's operation input
//   chooseBranch(f, bindings) → { ok, output: { branch } }  first true branch, else otherwise/null
//   approvalSummary(f, bindings) → { ok, output, digest }   what approvers see + SHA-256 of its
//                                                           canonical JSON (recorded with the decision)
//   foreachItems(f, bindings) → { ok, items }                the list (more than maxItems fails the step)
//   foreachBody(f, bindings, item, index) → { ok, output }   map body output, or action body input
//   collectForeach(results) → Json[]                         results in item order
//   delayUntil(f, bindings, now) → { ok, at }
// Failures are ExpressionError: the message names the flowlet and the expression.
import { createHash } from 'node:crypto';
import {
  ExpressionError,
  evaluate,
  evaluateBool,
  jsonKind,
  type CompiledExpression,
  type ExpressionLimits,
} from '../../expressions';
import type { CompiledExprs, CompiledFlowlet } from '../flows/definition/compiled';
import type { Json } from '../flows/definition/types';

export type Outcome<T> = { ok: true } & T;
export type FlowletResult<T> = Outcome<T> | { ok: false; error: ExpressionError };

type Of<K extends CompiledFlowlet['kind']> = Extract<CompiledFlowlet, { kind: K }>;
type Bindings = Record<string, Json>;

function evaluateObject(
  exprs: CompiledExprs,
  bindings: Bindings,
  limits?: ExpressionLimits,
): FlowletResult<{ output: Record<string, Json> }> {
  const output: Record<string, Json> = {};
  for (const [k, e] of Object.entries(exprs)) {
    const r = evaluate(e, bindings, limits);
    if (!r.ok) return r;
    output[k] = r.value;
  }
  return { ok: true, output };
}

export function runMap(f: Of<'map'>, bindings: Bindings, limits?: ExpressionLimits) {
  return evaluateObject(f.output, bindings, limits);
}

export function actionInput(f: Of<'action'>, bindings: Bindings, limits?: ExpressionLimits) {
  return evaluateObject(f.input, bindings, limits);
}

export function chooseBranch(
  f: Of<'condition'>,
  bindings: Bindings,
  limits?: ExpressionLimits,
): FlowletResult<{ output: { branch: string | null } }> {
  for (const b of f.branches) {
    const r = evaluateBool(b.when, bindings, limits);
    if (!r.ok) return r;
    if (r.value) return { ok: true, output: { branch: b.id } };
  }
  return { ok: true, output: { branch: f.otherwise ?? null } };
}

/** Canonical JSON (sorted keys) — what the digest of a summary is taken over. */
export function canonicalJson(v: Json): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  return `{${Object.keys(v)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k]!)}`)
    .join(',')}}`;
}

export function approvalSummary(
  f: Of<'approval'>,
  bindings: Bindings,
  limits?: ExpressionLimits,
): FlowletResult<{ output: Record<string, Json>; digest: string }> {
  const r = evaluateObject(f.summary, bindings, limits);
  if (!r.ok) return r;
  return { ...r, digest: createHash('sha256').update(canonicalJson(r.output)).digest('hex') };
}

export function foreachItems(
  f: Of<'foreach'>,
  bindings: Bindings,
  limits?: ExpressionLimits,
): FlowletResult<{ items: Json[] }> {
  const r = evaluate(f.items, bindings, limits);
  if (!r.ok) return r;
  const fail = (detail: string) => ({
    ok: false as const,
    error: new ExpressionError('wrong_result_type', f.items.site, f.items.source, detail),
  });
  if (!Array.isArray(r.value)) return fail(`must give a list, gave ${jsonKind(r.value)}`);
  if (r.value.length > f.flowlet.maxItems) {
    return fail(`gave ${r.value.length} items; this foreach takes at most ${f.flowlet.maxItems}`);
  }
  return { ok: true, items: r.value };
}

/** For a map body: its output; for an action body: the operation input for that item. */
export function foreachBody(
  f: Of<'foreach'>,
  bindings: Bindings,
  item: Json,
  index: number,
  limits?: ExpressionLimits,
): FlowletResult<{ output: Record<string, Json> }> {
  const b = { ...bindings, item, index };
  return f.body.kind === 'map' ? evaluateObject(f.body.output, b, limits) : evaluateObject(f.body.input, b, limits);
}

/** Results by item index → the foreach output, in item order (missing → error). */
export function collectForeach(count: number, results: ReadonlyMap<number, Json>): Json[] {
  const out: Json[] = [];
  for (let i = 0; i < count; i++) {
    if (!results.has(i)) throw new Error(`foreach result ${i} of ${count} is missing`);
    out.push(results.get(i)!);
  }
  return out;
}

export function delayUntil(
  f: Of<'delay'>,
  bindings: Bindings,
  now: Date,
  limits?: ExpressionLimits,
): FlowletResult<{ at: Date }> {
  if (f.until === undefined) return { ok: true, at: new Date(now.getTime() + (f.flowlet.delayMs ?? 0)) };
  const expr: CompiledExpression = f.until;
  const r = evaluate(expr, bindings, limits);
  if (!r.ok) return r;
  const ms = typeof r.value === 'string' ? Date.parse(r.value) : NaN;
  if (!Number.isFinite(ms)) {
    return {
      ok: false,
      error: new ExpressionError('wrong_result_type', expr.site, expr.source, 'must give a timestamp'),
    };
  }
  return { ok: true, at: new Date(Math.max(ms, now.getTime())) };
}
