// API for the engine — what runs next (pure):
//   planNext(flow, steps) → { ready, skip, finished }
//     steps: the latest state of each flowlet's step in this execution (absent = not created).
//     ready: flowlets to schedule now (entries first; then those whose incoming edges are all
//            settled with at least one taken). skip: flowlets none of whose incoming edges can be
//            taken any more (branch not chosen, approval went the other way, source skipped) —
//            mark them skipped, then call planNext again (skips cascade).
//     finished: null while anything can still move; else the execution's status and output.
//   bindingsFor(flow, flowletId, { input, trigger, steps }) → the CEL bindings of that flowlet:
//     `steps.<id>` = output of each ancestor that succeeded (null for a skipped one).
// Edge taken: its source succeeded and — condition: output.branch = edge.branch; approval:
// (edge.on ?? 'approved') matches output.approved. Execution output: { <sink id>: output } of
// every sink (flowlet without outgoing edges) that succeeded.
import type { ApprovalOutput, CompiledFlow, ConditionOutput } from '../flows/definition/compiled';
import type { Edge, Json } from '../flows/definition/types';
import { isTerminal, type StepStatus } from './step-machine';

export interface StepView {
  status: StepStatus;
  output?: Json;
}
export type StepsView = Readonly<Record<string, StepView | undefined>>;

export type ExecutionOutcome =
  | { status: 'succeeded'; output: Record<string, Json> }
  | { status: 'failed'; failedSteps: string[] }
  | { status: 'cancelled' };

export interface PlanResult {
  ready: string[];
  skip: string[];
  /** Steps that hold the execution until a person resolves them. */
  ambiguous: string[];
  finished: ExecutionOutcome | null;
}

type EdgeState = 'taken' | 'dead' | 'open';

function asObject(v: Json | undefined): Record<string, Json> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

export function edgeState(flow: CompiledFlow, edge: Edge, steps: StepsView): EdgeState {
  const src = steps[edge.from];
  if (src === undefined) return 'open';
  if (src.status === 'skipped') return 'dead';
  if (src.status !== 'succeeded') return 'open';
  const from = flow.flowlets.get(edge.from)!;
  const out = asObject(src.output);
  if (from.kind === 'condition') {
    return (out as ConditionOutput | undefined)?.branch === edge.branch ? 'taken' : 'dead';
  }
  if (from.kind === 'approval') {
    const approved = (out as ApprovalOutput | undefined)?.approved === true;
    return (edge.on ?? 'approved') === (approved ? 'approved' : 'rejected') ? 'taken' : 'dead';
  }
  return 'taken';
}

export function planNext(flow: CompiledFlow, steps: StepsView): PlanResult {
  const ready: string[] = [];
  const skip: string[] = [];
  const ambiguous: string[] = [];
  const failed: string[] = [];
  let cancelled = false;
  let moving = false;
  for (const id of flow.order) {
    const s = steps[id];
    if (s !== undefined && s.status !== 'pending') {
      if (s.status === 'failed') failed.push(id);
      else if (s.status === 'cancelled') cancelled = true;
      else if (s.status === 'ambiguous') ambiguous.push(id);
      else if (!isTerminal(s.status)) moving = true;
      continue;
    }
    const incoming = flow.flowlets.get(id)!.incoming;
    if (incoming.length === 0) {
      ready.push(id);
      continue;
    }
    const states = incoming.map((e) => edgeState(flow, e, steps));
    if (states.includes('open')) continue;
    if (states.includes('taken')) ready.push(id);
    else skip.push(id);
  }
  // A failed or cancelled step ends the execution: nothing new starts after it.
  if (cancelled) return { ready: [], skip: [], ambiguous, finished: moving ? null : { status: 'cancelled' } };
  if (failed.length > 0)
    return { ready: [], skip: [], ambiguous, finished: moving ? null : { status: 'failed', failedSteps: failed } };
  if (ready.length > 0 || skip.length > 0 || moving || ambiguous.length > 0)
    return { ready, skip, ambiguous, finished: null };
  const output: Record<string, Json> = {};
  for (const id of flow.order) {
    const f = flow.flowlets.get(id)!;
    const s = steps[id];
    if (f.outgoing.length === 0 && s?.status === 'succeeded') output[id] = s.output ?? null;
  }
  return { ready, skip, ambiguous, finished: { status: 'succeeded', output } };
}

export interface ExecutionData {
  input: Json;
  trigger: Json;
  steps: StepsView;
}

/** The CEL variables of a flowlet: input, trigger, and the outputs of its ancestors. */
export function bindingsFor(flow: CompiledFlow, flowletId: string, data: ExecutionData): Record<string, Json> {
  const f = flow.flowlets.get(flowletId);
  if (!f) throw new Error(`flowlet ${flowletId} is not in this flow`);
  const steps: Record<string, Json> = {};
  for (const a of f.ancestors) {
    const s = data.steps[a];
    if (s?.status === 'succeeded') steps[a] = s.output ?? null;
    else if (s?.status === 'skipped') steps[a] = null;
  }
  return { input: data.input, trigger: data.trigger, steps };
}
