// The shape of a flow definition (`flow-definition.v1`, JSON Schema in proto/) as TypeScript, and
// the contract between the two halves of the engine:
//   - definition/ and expressions/ (pure): validate + compile a definition, evaluate CEL, plan
//     what runs next — no I/O;
//   - executions/ (durable): stores executions and step runs, claims work, runs flowlets, calls
//     the planner after each step and commits the result, next commands and events together.
// Change this file only together with proto/flow-definition.v1.schema.json.

/** A JSON value as stored (inputs, outputs, step data). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A CEL expression source, checked at save time. Variables: `input`, `steps`, `trigger`, `item`, `index`. */
export type CelSource = string;

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  maxAttempts: number;
  /** Delay before the 2nd attempt. */
  initialDelayMs: number;
  /** Each further delay × factor, capped at maxDelayMs; full jitter applied by the engine. */
  factor: number;
  maxDelayMs: number;
}

interface FlowletBase {
  /** Unique in the flow: `^[a-z][a-z0-9_]{0,62}$` (used in CEL as `steps.<id>`). */
  id: string;
  name?: string;
  /** Deadline of one attempt of this flowlet. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
}

export interface ActionFlowlet extends FlowletBase {
  kind: 'action';
  /** `test` (echo/fail/sleep), `http`, or a connector (clio, quickbooks, salesforce, slack, google_drive). */
  integration: string;
  operation: string;
  /** Vault credential id (`crd_…`); absent for integrations that need none (test). */
  credentialId?: string;
  /** The scope the operation needs (from the vault's scope catalogue). */
  scope?: string;
  /** Operation input: each value a CEL expression. */
  input: Record<string, CelSource>;
}

export interface MapFlowlet extends FlowletBase {
  kind: 'map';
  /** Output object: each value a CEL expression. */
  output: Record<string, CelSource>;
}

export interface ConditionFlowlet extends FlowletBase {
  kind: 'condition';
  /** First matching branch wins; `otherwise` when none matches. Branch ids name edges. */
  branches: { id: string; when: CelSource }[];
  otherwise?: string;
}

export interface ApprovalFlowlet extends FlowletBase {
  kind: 'approval';
  approvers: {
    roles?: string[];
    users?: string[];
    /** A flow grant action that qualifies the holder (e.g. `approve`). */
    grant?: string;
  };
  /** Approvals needed (N of M); default 1. */
  required?: number;
  /** The person who triggered the run may not approve. */
  excludeTriggerer?: boolean;
  /** What approvers see: object of CEL expressions. */
  summary: Record<string, CelSource>;
  timeoutMs: number;
  onTimeout: 'reject' | 'approve';
}

export interface DelayFlowlet extends FlowletBase {
  kind: 'delay';
  /** Fixed delay, or `until` a CEL timestamp. */
  delayMs?: number;
  until?: CelSource;
}

export interface ForeachFlowlet extends FlowletBase {
  kind: 'foreach';
  /** CEL list expression. */
  items: CelSource;
  /** Cap on the list (validated ≤ engine maximum). */
  maxItems: number;
  /** The flowlet run once per item (`item`, `index` bound in its CEL); results collected in order. */
  body: ActionFlowlet | MapFlowlet;
  /** Items running at once. */
  concurrency?: number;
}

export type Flowlet = ActionFlowlet | MapFlowlet | ConditionFlowlet | ApprovalFlowlet | DelayFlowlet | ForeachFlowlet;
export type FlowletKind = Flowlet['kind'];

export interface Edge {
  from: string;
  to: string;
  /** For a condition: the branch id (or the `otherwise` id) this edge follows. */
  branch?: string;
  /** For an approval: follow on `approved` (default) or `rejected`. */
  on?: 'approved' | 'rejected';
}

export type Trigger =
  | { id: string; kind: 'manual' }
  | { id: string; kind: 'webhook'; allowedSources?: string[] }
  | { id: string; kind: 'schedule'; cron: string; timezone?: string; missedFires?: 'skip' | 'run_once' };

export interface FlowDefinition {
  schema: 'flow-definition.v1';
  name: string;
  description?: string;
  /** Data partition id (`prt_…`) the flow and its executions belong to. */
  partitionId?: string;
  purpose: string;
  legalBasis: 'consent' | 'contract' | 'legal_obligation' | 'vital_interests' | 'public_task' | 'legitimate_interests';
  /** JSON Schema of the input; `x-flow8-sensitive: ssn|card|medical|personal|secret` marks fields sealed at rest. */
  inputSchema: Record<string, Json>;
  triggers: Trigger[];
  flowlets: Flowlet[];
  edges: Edge[];
  /** Whole-execution deadline. */
  timeoutMs?: number;
}

/** One problem found at save, with where it is. */
export interface DefinitionProblem {
  /** RFC 6901 JSON pointer into the submitted definition, e.g. `/flowlets/2/output/total`. */
  pointer: string;
  code: string;
  message: string;
}
