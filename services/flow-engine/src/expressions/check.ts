// The save-time type checker. @bufbuild/cel 0.6.1 parses and evaluates but does not export its
// checker, so this walks the parsed AST itself: every identifier must be a declared variable,
// every field of a known object must exist, operator and function arguments must fit one of the
// library's own overloads (read from the environment, so the two never disagree), and the AST's
// size and comprehension nesting are measured for the caps.
import { type CelEnv, type parse } from '@bufbuild/cel';
import { DYN, T, celTypeName, describeType, type TypeDesc } from './types';

type Expr = ReturnType<typeof parse>['expr'];

export interface CheckIssue {
  code: 'unknown_variable' | 'unknown_field' | 'unknown_function' | 'type_mismatch' | 'unsupported';
  message: string;
}

export interface CheckResult {
  type: TypeDesc;
  issues: CheckIssue[];
  nodeCount: number;
  /** Deepest nesting of comprehensions (`map`, `filter`, `all`, `exists`, …). */
  comprehensionDepth: number;
}

// Handled by the planner itself, not through the function resolver.
const SPECIAL = new Set(['_&&_', '_||_', '_?_:_', '_[_]', '@not_strictly_false', 'not_strictly_false']);
const CONVERSIONS: Record<string, TypeDesc> = {
  int: T.int,
  uint: T.uint,
  double: T.double,
  string: T.string,
  bytes: T.bytes,
  bool: T.bool,
  timestamp: T.timestamp,
  duration: T.duration,
  dyn: DYN,
};

interface Overload {
  target: string | undefined;
  args: string[];
  result: TypeDesc;
}

function typeFromCelName(name: string): TypeDesc {
  switch (name) {
    case 'int':
    case 'uint':
    case 'double':
    case 'bool':
    case 'string':
    case 'bytes':
      return { kind: name };
    case 'null_type':
      return T.null;
    case 'google.protobuf.Timestamp':
      return T.timestamp;
    case 'google.protobuf.Duration':
      return T.duration;
    case 'list':
      return T.list();
    case 'map':
      return T.map();
    default:
      return DYN;
  }
}

const overloadCache = new WeakMap<CelEnv, Map<string, Overload[]>>();
function overloadsOf(env: CelEnv): Map<string, Overload[]> {
  let m = overloadCache.get(env);
  if (m) return m;
  m = new Map();
  for (const f of env.funcs) {
    const list = m.get(f.name) ?? [];
    list.push({
      target: f.target?.name,
      args: f.arguments.map((a) => a.name),
      result: typeFromCelName(f.result.name),
    });
    m.set(f.name, list);
  }
  overloadCache.set(env, m);
  return m;
}

function fits(actual: TypeDesc, param: string): boolean {
  return actual.kind === 'dyn' || param === 'dyn' || celTypeName(actual) === param;
}

/** The accumulator of a `map`/`filter` before anything is appended (compared by identity). */
const EMPTY_ACCU: TypeDesc = { kind: 'list', element: DYN };

const NUMERIC = new Set(['int', 'uint', 'double']);

function sameType(a: TypeDesc, b: TypeDesc): boolean {
  return celTypeName(a) === celTypeName(b);
}

export function checkExpr(env: CelEnv, root: Expr, scope: Record<string, TypeDesc>): CheckResult {
  const issues: CheckIssue[] = [];
  let nodeCount = 0;
  let maxDepth = 0;
  const overloads = overloadsOf(env);

  const visit = (e: Expr | undefined, vars: Record<string, TypeDesc>, compDepth: number): TypeDesc => {
    if (e === undefined) return DYN;
    nodeCount++;
    const k = e.exprKind;
    switch (k.case) {
      case 'constExpr': {
        switch (k.value.constantKind.case) {
          case 'boolValue':
            return T.bool;
          case 'int64Value':
            return T.int;
          case 'uint64Value':
            return T.uint;
          case 'doubleValue':
            return T.double;
          case 'stringValue':
            return T.string;
          case 'bytesValue':
            return T.bytes;
          case 'nullValue':
            return T.null;
          default:
            return DYN;
        }
      }
      case 'identExpr': {
        const t = vars[k.value.name];
        if (t !== undefined && Object.hasOwn(vars, k.value.name)) return t;
        issues.push({
          code: 'unknown_variable',
          message: `unknown variable '${k.value.name}' (available here: ${Object.keys(vars)
            .filter((v) => !v.startsWith('@'))
            .join(', ')})`,
        });
        return DYN;
      }
      case 'selectExpr': {
        const operand = visit(k.value.operand, vars, compDepth);
        const field = k.value.field;
        const t = fieldOf(operand, field);
        return k.value.testOnly ? T.bool : t;
      }
      case 'callExpr':
        return call(k.value.function, k.value.target, k.value.args, vars, compDepth);
      case 'listExpr': {
        const elems = k.value.elements.map((x) => visit(x, vars, compDepth));
        const first = elems[0];
        return T.list(first !== undefined && elems.every((x) => sameType(x, first)) ? first : DYN);
      }
      case 'structExpr': {
        if (k.value.messageName !== '') {
          issues.push({
            code: 'unsupported',
            message: `message construction '${k.value.messageName}{…}' is not available`,
          });
          return DYN;
        }
        const fields: Record<string, TypeDesc> = {};
        let allConstKeys = true;
        const values: TypeDesc[] = [];
        for (const entry of k.value.entries) {
          const key = entry.keyKind.case === 'mapKey' ? entry.keyKind.value : undefined;
          const keyType = visit(key, vars, compDepth);
          const v = visit(entry.value, vars, compDepth);
          values.push(v);
          if (keyType.kind !== 'string' && keyType.kind !== 'dyn') {
            issues.push({
              code: 'type_mismatch',
              message: `map keys must be strings (JSON objects), not ${describeType(keyType)}`,
            });
          }
          const c = key?.exprKind.case === 'constExpr' ? key.exprKind.value.constantKind : undefined;
          if (c?.case === 'stringValue') fields[c.value] = v;
          else allConstKeys = false;
        }
        return allConstKeys ? T.object(fields, true) : T.map(DYN);
      }
      case 'comprehensionExpr': {
        const c = k.value;
        maxDepth = Math.max(maxDepth, compDepth + 1);
        const range = visit(c.iterRange, vars, compDepth);
        let iterType: TypeDesc = DYN;
        let iter2Type: TypeDesc = DYN;
        if (range.kind === 'list') {
          iterType = c.iterVar2 ? T.int : range.element;
          iter2Type = range.element;
        } else if (range.kind === 'map' || range.kind === 'object') {
          iterType = T.string;
        } else if (range.kind !== 'dyn') {
          issues.push({ code: 'type_mismatch', message: `cannot iterate over ${describeType(range)}` });
        }
        let init = visit(c.accuInit, vars, compDepth);
        // `map`/`filter` start from `[]`: its element type comes from what the loop appends.
        const ae = c.accuInit?.exprKind;
        if (ae?.case === 'listExpr' && ae.value.elements.length === 0) init = EMPTY_ACCU;
        const inner: Record<string, TypeDesc> = { ...vars, [c.iterVar]: iterType, [c.accuVar]: init };
        if (c.iterVar2) inner[c.iterVar2] = iter2Type;
        visit(c.loopCondition, inner, compDepth + 1);
        const step = visit(c.loopStep, inner, compDepth + 1);
        const accu = celTypeName(step) === celTypeName(init) ? step : init;
        return visit(c.result, { ...vars, [c.accuVar]: accu }, compDepth);
      }
      default:
        issues.push({ code: 'unsupported', message: 'empty expression' });
        return DYN;
    }
  };

  const fieldOf = (operand: TypeDesc, field: string): TypeDesc => {
    switch (operand.kind) {
      case 'dyn':
        return DYN;
      case 'map':
        return operand.value;
      case 'object': {
        if (Object.hasOwn(operand.fields, field)) return operand.fields[field]!;
        if (operand.closed) {
          const known = Object.keys(operand.fields);
          issues.push({
            code: 'unknown_field',
            message:
              operand.what === 'steps'
                ? `steps.${field}: no flowlet '${field}' has finished before this point (available: ${known.join(', ') || 'none'})`
                : `no field '${field}' in ${operand.what ?? 'this object'} (known: ${known.join(', ') || 'none'})`,
          });
        }
        return DYN;
      }
      default:
        issues.push({ code: 'type_mismatch', message: `cannot select field '${field}' of a ${describeType(operand)}` });
        return DYN;
    }
  };

  const call = (
    fn: string,
    target: Expr | undefined,
    argExprs: Expr[],
    vars: Record<string, TypeDesc>,
    compDepth: number,
  ): TypeDesc => {
    const targetType = target === undefined ? undefined : visit(target, vars, compDepth);
    const args = argExprs.map((a) => visit(a, vars, compDepth));
    if (SPECIAL.has(fn)) {
      switch (fn) {
        case '_&&_':
        case '_||_':
          for (const a of args) {
            if (a.kind !== 'bool' && a.kind !== 'dyn') {
              issues.push({
                code: 'type_mismatch',
                message: `${fn.slice(1, -1)} needs booleans, got ${describeType(a)}`,
              });
            }
          }
          return T.bool;
        case '_?_:_': {
          const [c, a, b] = args;
          if (c && c.kind !== 'bool' && c.kind !== 'dyn') {
            issues.push({
              code: 'type_mismatch',
              message: `the condition of ?: must be a boolean, got ${describeType(c)}`,
            });
          }
          return a && b && sameType(a, b) ? a : DYN;
        }
        case '_[_]': {
          const [base, index] = args;
          if (!base || !index) return DYN;
          if (base.kind === 'list') {
            if (!NUMERIC.has(index.kind) && index.kind !== 'dyn') {
              issues.push({
                code: 'type_mismatch',
                message: `a list index must be a number, got ${describeType(index)}`,
              });
            }
            return base.element;
          }
          if (base.kind === 'object' || base.kind === 'map') {
            const keyExpr = argExprs[1];
            const c = keyExpr?.exprKind.case === 'constExpr' ? keyExpr.exprKind.value.constantKind : undefined;
            if (c?.case === 'stringValue') return fieldOf(base, c.value);
            return base.kind === 'map' ? base.value : DYN;
          }
          if (base.kind !== 'dyn') {
            issues.push({ code: 'type_mismatch', message: `cannot index a ${describeType(base)}` });
          }
          return DYN;
        }
        default:
          return T.bool;
      }
    }
    const candidates = overloads.get(fn);
    if (candidates === undefined) {
      issues.push({ code: 'unknown_function', message: `unknown function '${fn}'` });
      return DYN;
    }
    const shaped = candidates.filter(
      (o) => (o.target === undefined) === (targetType === undefined) && o.args.length === args.length,
    );
    const matching = shaped.filter(
      (o) => (targetType === undefined || fits(targetType, o.target!)) && o.args.every((p, i) => fits(args[i]!, p)),
    );
    if (matching.length === 0) {
      const shown = [...(targetType ? [targetType] : []), ...args].map(describeType).join(', ');
      issues.push({
        code: 'type_mismatch',
        message: `no overload of '${displayName(fn)}' takes (${shown})${hintFor(fn, targetType, args)}`,
      });
      return CONVERSIONS[fn] ?? DYN;
    }
    if (fn === '_+_' && args[0] === EMPTY_ACCU && args[1]?.kind === 'list') return args[1];
    if (fn === '_+_' && args[0]?.kind === 'list' && args[1]?.kind === 'list') {
      return sameType(args[0].element, args[1].element) ? args[0] : T.list();
    }
    if (CONVERSIONS[fn]) return CONVERSIONS[fn];
    const first = matching[0]!.result;
    if (!matching.every((o) => sameType(o.result, first))) return DYN;
    if (first.kind === 'list' && args[0]?.kind === 'list' && ['_+_'].includes(fn)) return args[0];
    return first;
  };

  const type = visit(root, scope, 0);
  return { type, issues, nodeCount, comprehensionDepth: maxDepth };
}

function displayName(fn: string): string {
  const ops: Record<string, string> = {
    '_+_': '+',
    '_-_': '-',
    '_*_': '*',
    '_/_': '/',
    '_%_': '%',
    '-_': 'unary -',
    '!_': '!',
    '_==_': '==',
    '_!=_': '!=',
    '_<_': '<',
    '_<=_': '<=',
    '_>_': '>',
    '_>=_': '>=',
    '@in': 'in',
  };
  return ops[fn] ?? fn;
}

function hintFor(fn: string, target: TypeDesc | undefined, args: TypeDesc[]): string {
  const kinds = [...(target ? [target] : []), ...args].map((a) => a.kind);
  if (kinds.includes('double') && kinds.includes('int') && ['_+_', '_-_', '_*_', '_/_', '_%_'].includes(fn)) {
    return ' — JSON numbers are doubles in CEL: write 2.0 instead of 2, or convert with int()/double()';
  }
  return '';
}
