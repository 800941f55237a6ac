// The one CEL module (@bufbuild/cel, pinned at 0.6.1 — pre-1.0, so nothing else imports it):
// compile = parse + check against the variables in scope + caps; evaluate = bind JSON, run under
// a work budget, convert the result back to JSON. Never throws on user input: results are values.
import {
  CelScalar,
  celEnv,
  celFunc,
  isCelError,
  isCelList,
  isCelMap,
  isCelUint,
  listType,
  parse,
  plan,
  type CelList,
  type CelValue,
} from '@bufbuild/cel';
import type { Json } from '../features/flows/definition/types';
import { checkExpr, type CheckIssue } from './check';
import { DEFAULT_LIMITS, type ExpressionLimits } from './limits';
import { describeType, type TypeDesc } from './types';

/** Where an expression lives, for messages: the flowlet and the JSON pointer of the expression. */
export interface ExpressionSite {
  flowletId?: string;
  pointer: string;
}

export interface CompiledExpression {
  readonly source: string;
  readonly site: ExpressionSite;
  /** The checked result type (`dyn` when it depends on data). */
  readonly type: TypeDesc;
  readonly comprehensionDepth: number;
  /** @internal */
  readonly run: (bindings: Record<string, unknown>) => unknown;
}

export type CompileProblemCode =
  'cel_too_long' | 'cel_too_deep' | 'cel_too_complex' | 'cel_syntax' | CheckIssue['code'];
export interface CompileProblem {
  code: CompileProblemCode;
  message: string;
}
export type CompileResult = { ok: true; expr: CompiledExpression } | { ok: false; problems: CompileProblem[] };

export type EvaluationErrorCode =
  | 'input_too_large'
  | 'list_too_large'
  | 'too_costly'
  | 'result_too_large'
  | 'result_not_json'
  | 'evaluation_failed'
  | 'wrong_result_type';

export class ExpressionError extends Error {
  constructor(
    readonly code: EvaluationErrorCode,
    readonly site: ExpressionSite,
    readonly source: string,
    detail: string,
  ) {
    super(
      `${site.flowletId !== undefined ? `flowlet '${site.flowletId}', ` : ''}expression ${site.pointer} (${abbreviate(source)}): ${detail}`,
    );
    this.name = 'ExpressionError';
  }
}
export type EvaluationResult = { ok: true; value: Json } | { ok: false; error: ExpressionError };

function abbreviate(source: string): string {
  return source.length > 120 ? `${source.slice(0, 117)}...` : source;
}

// ---------------------------------------------------------------------------------------------
// Work budget: concatenation is where memory grows (and `map`/`filter` accumulate through the
// list `+`), so the environment's `+` overloads for strings, bytes and lists are replaced by
// metered ones. Evaluation is synchronous, so one module-level meter is safe.
class BudgetExceeded extends Error {}
let meter: { spent: number; limit: number } | undefined;
function charge(units: number): void {
  if (meter === undefined) return;
  meter.spent += units;
  if (meter.spent > meter.limit) throw new BudgetExceeded('work budget exceeded');
}

// The library's `+` on lists builds a chain of concatenations, so `map`/`filter` over n items
// leave an n-deep chain that costs O(n²) to read (a 1,000 × 1,000 map took 50 s). This list
// appends in place to a buffer no one else has appended to yet, and keeps its own length, so
// every list value stays immutable while the macros' accumulation is amortised O(1).
// Recognised by the library through its registered symbol (checked by the tests on upgrade).
const CEL_LIST = Symbol.for('@bufbuild/cel/list');
class AppendList {
  readonly [CEL_LIST] = {};
  constructor(
    private readonly buf: CelValue[],
    readonly size: number,
  ) {}
  get(index: number): CelValue | undefined {
    return index >= 0 && index < this.size ? this.buf[index] : undefined;
  }
  *values(): IterableIterator<CelValue> {
    for (let i = 0; i < this.size; i++) yield this.buf[i]!;
  }
  [Symbol.iterator](): IterableIterator<CelValue> {
    return this.values();
  }
  /** @internal */
  appendable(): CelValue[] | undefined {
    return this.buf.length === this.size ? this.buf : undefined;
  }
}
function appendLists(l: CelList, r: CelList): CelList {
  charge(r.size + 1);
  let buf = l instanceof AppendList ? l.appendable() : undefined;
  if (buf === undefined) {
    charge(l.size);
    buf = [...l];
  }
  for (const v of r) buf.push(v);
  return new AppendList(buf, buf.length) as unknown as CelList;
}

const env = celEnv({
  funcs: [
    celFunc('_+_', [CelScalar.STRING, CelScalar.STRING], CelScalar.STRING, (l, r) => {
      charge(l.length + r.length);
      return l + r;
    }),
    celFunc('_+_', [CelScalar.BYTES, CelScalar.BYTES], CelScalar.BYTES, (l, r) => {
      charge(l.length + r.length);
      const out = new Uint8Array(l.length + r.length);
      out.set(l, 0);
      out.set(r, l.length);
      return out;
    }),
    celFunc('_+_', [listType(CelScalar.DYN), listType(CelScalar.DYN)], listType(CelScalar.DYN), (l, r) =>
      appendLists(l as CelList, r as CelList),
    ),
  ],
});

function maxNesting(source: string): number {
  let depth = 0;
  let max = 0;
  let quote: string | undefined;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (quote !== undefined) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '(' || c === '[' || c === '{') max = Math.max(max, ++depth);
    else if (c === ')' || c === ']' || c === '}') depth--;
  }
  return max;
}

/**
 * Parses and type-checks `source` against the variables in `scope` (name → type). Every problem
 * is returned; a compiled expression is returned only when there is none.
 */
export function compileExpression(
  source: string,
  scope: Record<string, TypeDesc>,
  site: ExpressionSite,
  limits: ExpressionLimits = DEFAULT_LIMITS,
): CompileResult {
  if (source.length > limits.maxSourceLength) {
    return {
      ok: false,
      problems: [{ code: 'cel_too_long', message: `longer than ${limits.maxSourceLength} characters` }],
    };
  }
  if (maxNesting(source) > limits.maxNesting) {
    return {
      ok: false,
      problems: [{ code: 'cel_too_deep', message: `nested deeper than ${limits.maxNesting} levels` }],
    };
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (e) {
    return { ok: false, problems: [{ code: 'cel_syntax', message: (e as Error).message.replace(/^<input>:/, '') }] };
  }
  const checked = checkExpr(env, parsed.expr, scope);
  const problems: CompileProblem[] = [...checked.issues];
  if (checked.nodeCount > limits.maxNodes) {
    problems.push({ code: 'cel_too_complex', message: `more than ${limits.maxNodes} nodes after macro expansion` });
  }
  if (checked.comprehensionDepth > limits.maxComprehensionDepth) {
    problems.push({
      code: 'cel_too_complex',
      message: `comprehensions nested ${checked.comprehensionDepth} deep (at most ${limits.maxComprehensionDepth})`,
    });
  }
  if (problems.length > 0) return { ok: false, problems };
  const planned = plan(env, parsed) as (b: Record<string, unknown>) => unknown;
  return {
    ok: true,
    expr: { source, site, type: checked.type, comprehensionDepth: checked.comprehensionDepth, run: planned },
  };
}

/** Checks the compiled type against what the flowlet needs (a boolean for a branch, a list for foreach). */
export function expectType(expr: CompiledExpression, kinds: TypeDesc['kind'][]): CompileProblem | undefined {
  if (expr.type.kind === 'dyn' || kinds.includes(expr.type.kind)) return undefined;
  return { code: 'type_mismatch', message: `must be ${kinds.join(' or ')}, but is ${describeType(expr.type)}` };
}

// ---------------------------------------------------------------------------------------------
// Data in: measure (bytes, longest list) and collect strings long enough to be worth hiding if a
// library message quotes them.

interface Measure {
  bytes: number;
  longestList: number;
  strings: Set<string>;
}
function measure(value: unknown, m: Measure, depth: number): void {
  if (depth > 64) throw new BudgetExceeded('data nested deeper than 64 levels');
  if (value === null || value === undefined) {
    m.bytes += 4;
  } else if (typeof value === 'string') {
    m.bytes += value.length + 2;
    if (value.length >= 3 && m.strings.size < 10_000) m.strings.add(value);
  } else if (typeof value === 'number' || typeof value === 'boolean') {
    m.bytes += 8;
  } else if (Array.isArray(value)) {
    m.longestList = Math.max(m.longestList, value.length);
    m.bytes += 2;
    for (const v of value) measure(v, m, depth + 1);
  } else if (typeof value === 'object') {
    m.bytes += 2;
    for (const [k, v] of Object.entries(value)) {
      m.bytes += k.length + 3;
      measure(v, m, depth + 1);
    }
  }
}

function redact(message: string, strings: Set<string>): string {
  let out = message.split('\n')[0]!.slice(0, 300);
  for (const s of strings) if (out.includes(s)) out = out.split(s).join('‹redacted›');
  return out;
}

// Data out: CEL values back to JSON, with the result cap applied as it is built.
class NotJson extends Error {}
function toJson(v: CelValue | unknown, budget: { bytes: number }, depth = 0): Json {
  if (depth > 64) throw new NotJson('nested deeper than 64 levels');
  const spend = (n: number) => {
    budget.bytes -= n;
    if (budget.bytes < 0) throw new BudgetExceeded('result too large');
  };
  if (v === null) return (spend(4), null);
  switch (typeof v) {
    case 'boolean':
      spend(5);
      return v;
    case 'string':
      spend(v.length + 2);
      return v;
    case 'number':
      if (!Number.isFinite(v)) throw new NotJson('NaN or infinity is not a JSON number');
      spend(8);
      return v;
    case 'bigint':
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new NotJson('an integer beyond ±2^53 cannot be represented in JSON exactly');
      }
      spend(8);
      return Number(v);
    default:
      break;
  }
  if (isCelUint(v)) return toJson(v.value, budget, depth);
  if (isCelList(v)) {
    const out: Json[] = [];
    spend(2);
    for (const item of v) out.push(toJson(item, budget, depth + 1));
    return out;
  }
  if (isCelMap(v)) {
    const out: Record<string, Json> = Object.create(null) as Record<string, Json>;
    spend(2);
    for (const [k, item] of v.entries()) {
      if (typeof k !== 'string') throw new NotJson('an object key must be a string');
      spend(k.length + 3);
      out[k] = toJson(item, budget, depth + 1);
    }
    return { ...out };
  }
  if (v instanceof Uint8Array) throw new NotJson('bytes are not JSON: convert with string()');
  const typeName = (v as { desc?: { typeName?: string } }).desc?.typeName;
  if (typeName === 'google.protobuf.Timestamp' || typeName === 'google.protobuf.Duration') {
    const msg = (v as { message: { seconds: bigint; nanos: number } }).message;
    if (typeName === 'google.protobuf.Duration') {
      const s = Number(msg.seconds) + msg.nanos / 1e9;
      spend(16);
      return `${s}s`;
    }
    const iso = new Date(Number(msg.seconds) * 1000 + Math.floor(msg.nanos / 1e6)).toISOString();
    spend(iso.length + 2);
    return iso;
  }
  throw new NotJson(`a ${typeName ?? typeof v} value is not JSON`);
}

/**
 * Evaluates a compiled expression over JSON bindings (`input`, `steps`, `trigger`, `item`,
 * `index`). Caps apply before (data size, list length, iteration bound), during (work budget)
 * and after (result size). A failure names the flowlet and the expression; data values that a
 * library message would quote are redacted.
 */
export function evaluate(
  expr: CompiledExpression,
  bindings: Record<string, Json>,
  limits: ExpressionLimits = DEFAULT_LIMITS,
): EvaluationResult {
  const fail = (code: EvaluationErrorCode, detail: string): EvaluationResult => ({
    ok: false,
    error: new ExpressionError(code, expr.site, expr.source, detail),
  });
  const m: Measure = { bytes: 0, longestList: 0, strings: new Set() };
  try {
    measure(bindings, m, 0);
  } catch {
    return fail('input_too_large', 'data nested deeper than 64 levels');
  }
  if (m.bytes > limits.maxInputBytes) return fail('input_too_large', `data larger than ${limits.maxInputBytes} bytes`);
  if (m.longestList > limits.maxListLength) {
    return fail('list_too_large', `a list has more than ${limits.maxListLength} elements`);
  }
  if (expr.comprehensionDepth > 0 && Math.pow(m.longestList, expr.comprehensionDepth) > limits.maxIterations) {
    return fail(
      'too_costly',
      `comprehensions nested ${expr.comprehensionDepth} deep over a list of ${m.longestList} could run more than ${limits.maxIterations} iterations`,
    );
  }
  let raw: unknown;
  meter = { spent: 0, limit: limits.maxWork };
  try {
    raw = expr.run(bindings);
  } catch (e) {
    if (e instanceof BudgetExceeded) return fail('too_costly', `more than ${limits.maxWork} units of work`);
    return fail('evaluation_failed', redact((e as Error).message, m.strings));
  } finally {
    meter = undefined;
  }
  if (isCelError(raw)) {
    const cause: unknown = raw.cause;
    if (cause instanceof BudgetExceeded || /work budget exceeded/.test(raw.message)) {
      return fail('too_costly', `more than ${limits.maxWork} units of work`);
    }
    return fail('evaluation_failed', redact(raw.message, m.strings));
  }
  try {
    return { ok: true, value: toJson(raw, { bytes: limits.maxResultBytes }) };
  } catch (e) {
    if (e instanceof BudgetExceeded)
      return fail('result_too_large', `result larger than ${limits.maxResultBytes} bytes`);
    return fail('result_not_json', (e as Error).message);
  }
}

/** Evaluates and requires a boolean (condition branches). */
export function evaluateBool(
  expr: CompiledExpression,
  bindings: Record<string, Json>,
  limits?: ExpressionLimits,
): { ok: true; value: boolean } | { ok: false; error: ExpressionError } {
  const r = evaluate(expr, bindings, limits);
  if (!r.ok) return r;
  if (typeof r.value !== 'boolean') {
    return {
      ok: false,
      error: new ExpressionError(
        'wrong_result_type',
        expr.site,
        expr.source,
        `must give a boolean, gave ${jsonKind(r.value)}`,
      ),
    };
  }
  return { ok: true, value: r.value };
}

export function jsonKind(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v;
}
