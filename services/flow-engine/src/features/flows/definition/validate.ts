// Validation at save: every problem of a submitted definition, each with its JSON pointer —
// the JSON Schema (proto/flow-definition.v1.schema.json), then the graph, then every CEL
// expression type-checked against what is available at its flowlet. Implemented with the
// compiler (compile.ts) so that what validates is exactly what compiles.
export {
  validateDefinition,
  compileFlow,
  DEFAULT_COMPILE_OPTIONS,
  type CompileOptions,
  type CompileFlowResult,
} from './compile';
