// API for the engine — CEL, the only expression language (pure, no I/O):
//   compileExpression(source, scope, site, limits?) → { ok, expr } | { ok: false, problems }
//       parse + type-check against `scope` (variable name → TypeDesc) + caps; done at save and
//       again when a stored version is loaded (compile() in features/flows/definition does it).
//   evaluate(expr, bindings, limits?) → { ok: true, value: Json } | { ok: false, error: ExpressionError }
//       bindings are JSON (`input`, `steps`, `trigger`, `item`, `index`); never throws on user data;
//       error.message names the flowlet and the expression, with data values redacted.
//   evaluateBool(expr, bindings) — the same, requiring a boolean (condition branches).
//   typeFromJsonSchema(schema) — the CEL type of data a JSON Schema describes.
//   DEFAULT_LIMITS / ExpressionLimits — the caps (source length, nesting, nodes, comprehension
//       depth, input bytes, list length, iterations, work, result bytes).
// JSON numbers are CEL doubles: designers write `2.0`, or `int(x)`; the checker says so.
export {
  compileExpression,
  evaluate,
  evaluateBool,
  expectType,
  jsonKind,
  ExpressionError,
  type CompiledExpression,
  type CompileProblem,
  type CompileResult,
  type EvaluationErrorCode,
  type EvaluationResult,
  type ExpressionSite,
} from './cel';
export { DEFAULT_LIMITS, type ExpressionLimits } from './limits';
export { DYN, T, describeType, typeFromJsonSchema, type TypeDesc } from './types';
