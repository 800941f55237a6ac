// API for the engine — flow definitions (pure):
//   types.ts             FlowDefinition and friends (the contract; proto/flow-definition.v1.schema.json)
//   compileFlow(raw, options?) → { ok: true, flow: CompiledFlow } | { ok: false, problems }
//   validateDefinition(raw, options?) → DefinitionProblem[] (every problem, with its JSON pointer)
//   CompiledFlow / CompiledFlowlet (compiled.ts): flowlets by id with incoming/outgoing edges,
//       ancestors, resolved retry policy, compiled CEL; `order` (topological), `entries`.
//   ApprovalOutput / ConditionOutput: what `steps.<approval>` / `steps.<condition>` hold.
//   In CEL, `steps.<id>` IS the output of flowlet <id> (not `steps.<id>.output`).
//   invoiceFlow(), echoFlow(): example definitions for tests.
export * from './types';
export type {
  ApprovalOutput,
  CompiledBody,
  CompiledExprs,
  CompiledFlow,
  CompiledFlowlet,
  ConditionOutput,
} from './compiled';
export {
  compileFlow,
  validateDefinition,
  DEFAULT_COMPILE_OPTIONS,
  type CompileOptions,
  type CompileFlowResult,
} from './compile';
export { flowDefinitionSchema, schemaProblems } from './flow-definition.schema';
export { echoFlow, invoiceFlow } from './examples';
