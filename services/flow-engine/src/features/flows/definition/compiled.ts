// The checked plan a flow version compiles to: what the engine runs. Built only by compile.ts.
import type { CompiledExpression, TypeDesc } from '../../../expressions';
import type { Edge, Flowlet, FlowDefinition, RetryPolicy } from './types';

export type CompiledExprs = Record<string, CompiledExpression>;

/** What a foreach runs once per item (`item`, `index` bound). */
export type CompiledBody =
  | { kind: 'action'; id: string; flowlet: Extract<Flowlet, { kind: 'action' }>; input: CompiledExprs }
  | { kind: 'map'; id: string; flowlet: Extract<Flowlet, { kind: 'map' }>; output: CompiledExprs };

interface CompiledBase {
  id: string;
  /** Index in definition.flowlets (for JSON pointers). */
  index: number;
  /** Direct predecessors: ids of the `from` of incoming edges. */
  incoming: Edge[];
  outgoing: Edge[];
  /** Every flowlet before this one (transitively): what `steps.<id>` may name in its CEL. Sorted. */
  ancestors: readonly string[];
  /** Retry policy with the engine defaults applied (copy it onto the step row). */
  retry: RetryPolicy;
  timeoutMs: number | undefined;
  /** The type of this flowlet's output as seen by later CEL (`steps.<id>`). */
  outputType: TypeDesc;
}

export type CompiledFlowlet = CompiledBase &
  (
    | { kind: 'action'; flowlet: Extract<Flowlet, { kind: 'action' }>; input: CompiledExprs }
    | { kind: 'map'; flowlet: Extract<Flowlet, { kind: 'map' }>; output: CompiledExprs }
    | {
        kind: 'condition';
        flowlet: Extract<Flowlet, { kind: 'condition' }>;
        branches: { id: string; when: CompiledExpression }[];
        otherwise: string | undefined;
      }
    | { kind: 'approval'; flowlet: Extract<Flowlet, { kind: 'approval' }>; summary: CompiledExprs }
    | { kind: 'delay'; flowlet: Extract<Flowlet, { kind: 'delay' }>; until: CompiledExpression | undefined }
    | {
        kind: 'foreach';
        flowlet: Extract<Flowlet, { kind: 'foreach' }>;
        items: CompiledExpression;
        body: CompiledBody;
        concurrency: number;
      }
  );

export interface CompiledFlow {
  definition: FlowDefinition;
  /** By id. */
  flowlets: ReadonlyMap<string, CompiledFlowlet>;
  /** Topological order (entries first); ties in definition order. */
  order: readonly string[];
  /** Flowlets with no incoming edge: they start when the execution starts. */
  entries: readonly string[];
  inputType: TypeDesc;
}

/** Output of an approval flowlet (what `steps.<approval>` holds). */
export interface ApprovalOutput {
  approved: boolean;
  decision: 'approved' | 'rejected';
  timedOut: boolean;
}
/** Output of a condition flowlet. */
export interface ConditionOutput {
  branch: string | null;
}
