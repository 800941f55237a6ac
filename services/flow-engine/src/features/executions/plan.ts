// The durable half's view of the pure core: which flowlets run first, which follow a finished
// one, how a map/condition/action input is evaluated, and the retry policy of a step.
//
// ADAPTER: the planner, step machine, retry policy and CEL evaluation are built by the pure half
// (flows/definition/compile.ts, executions/planner.ts, retry-policy.ts, expressions/). Until
// they land, this file carries the smallest equivalent so the durable core runs end to end; each
// function below is replaced by a call into those modules, and nothing outside this file knows.
import type { ConditionFlowlet, Edge, FlowDefinition, Flowlet, Json, RetryPolicy } from '../flows/definition/types';

export interface EvalScope {
  input: Json;
  /** `steps.<id>.output` of every step that succeeded so far. */
  steps: Record<string, { output: Json }>;
  trigger: Json;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, initialDelayMs: 1000, factor: 2, maxDelayMs: 60_000 };

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

/** Retry policy of a flowlet: its own fields over the engine default. */
export function retryPolicyOf(f: Flowlet): RetryPolicy {
  return { ...DEFAULT_RETRY, ...(f.retry ?? {}) };
}

/** Delay before attempt `nextAttempt` (2 = first retry): exponential, capped, full jitter. */
export function retryDelayMs(policy: RetryPolicy, nextAttempt: number, random: () => number): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** Math.max(0, nextAttempt - 2));
  return Math.floor(random() * base);
}

// ---- expressions (stand-in for the CEL module) ------------------------------------------------
// Supports what the engine's tests use: literals (numbers, 'strings', "strings", true, false,
// null), paths (`input.a.b`, `steps.x.output.y`, `trigger.id`), and one comparison
// (== != < <= > >=) between two of those.

function literalOrPath(src: string, scope: EvalScope): Json {
  const s = src.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  if (/^'[^']*'$/.test(s) || /^"[^"]*"$/.test(s)) return s.slice(1, -1);
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (s === 'null') return null;
  if (!/^[a-z_][a-zA-Z0-9_]*(\.[a-zA-Z_][a-zA-Z0-9_]*)*$/.test(s)) throw new ExpressionError(`unsupported expression`);
  const [root, ...path] = s.split('.');
  let v: Json | undefined = (scope as unknown as Record<string, Json>)[root!];
  for (const p of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
    v = v[p];
  }
  return v ?? null;
}

export class ExpressionError extends Error {
  readonly code = 'EXPRESSION_ERROR';
}

export function evaluate(src: string, scope: EvalScope): Json {
  const m = /^(.+?)\s*(==|!=|<=|>=|<|>)\s*(.+)$/.exec(src.trim());
  if (!m) return literalOrPath(src, scope);
  const a = literalOrPath(m[1]!, scope);
  const b = literalOrPath(m[3]!, scope);
  switch (m[2]) {
    case '==':
      return JSON.stringify(a) === JSON.stringify(b);
    case '!=':
      return JSON.stringify(a) !== JSON.stringify(b);
    default: {
      if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'string')) return false;
      const x = a as number | string;
      const y = b as number | string;
      return m[2] === '<' ? x < y : m[2] === '<=' ? x <= y : m[2] === '>' ? x > y : x >= y;
    }
  }
}

export function evaluateObject(exprs: Record<string, string>, scope: EvalScope): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, src] of Object.entries(exprs)) out[k] = evaluate(src, scope);
  return out;
}

/** The branch a condition takes: the first whose `when` is true, else `otherwise` (null: none). */
export function chooseBranch(f: ConditionFlowlet, scope: EvalScope): string | null {
  for (const b of f.branches) if (evaluate(b.when, scope) === true) return b.id;
  return f.otherwise ?? null;
}
