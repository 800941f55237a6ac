// The durable half's bridge to the pure core: the compiled flow of an execution's pinned
// definition, and the view of its stored step rows the planner (planner.ts) and the flowlets
// (flowlets.ts) work on. Nothing here decides what runs next — planNext does.
//
// Stored statuses → step machine statuses (step-machine.ts). A flowlet's state is its latest row
// (highest seq), except that an open timer (a retry or a delay) makes it `retry_wait`:
//   scheduled, running, succeeded, failed, skipped, cancelled, ambiguous, awaiting_approval: same;
//   waiting (a delay or retry timer), rate_limited (always followed by a timer): retry_wait;
//   timed_out: failed unless a retry timer follows; lost: scheduled (a new row follows at once).
import { compileFlow } from '../flows/definition/compile';
import type { CompiledFlow } from '../flows/definition/compiled';
import type { FlowDefinition, Flowlet, Json } from '../flows/definition/types';
import type { StepsView, StepView } from './planner';
import type { StepStatus as MachineStatus } from './step-machine';
import type { StepStatus as StoredStatus } from './executions.repo';

export function flowletOf(def: FlowDefinition, id: string): Flowlet {
  const f = def.flowlets.find((x) => x.id === id);
  if (!f) throw new Error(`flowlet ${id} is not in the definition`);
  return f;
}

/** Retry policy of a flowlet, the engine defaults applied (by compile). */
export function retryPolicyOf(def: FlowDefinition, stepId: string) {
  const f = compiledFlow(def).flowlets.get(stepId);
  if (!f) throw new Error(`flowlet ${stepId} is not in the definition`);
  return f.retry;
}

const STORED_TO_MACHINE: Record<StoredStatus, MachineStatus> = {
  scheduled: 'scheduled',
  running: 'running',
  waiting: 'retry_wait',
  succeeded: 'succeeded',
  failed: 'failed',
  rate_limited: 'retry_wait',
  timed_out: 'failed',
  lost: 'scheduled',
  ambiguous: 'ambiguous',
  cancelled: 'cancelled',
  skipped: 'skipped',
  awaiting_approval: 'awaiting_approval',
};

export function machineStatus(stored: StoredStatus, hasOpenTimer: boolean): MachineStatus {
  return hasOpenTimer ? 'retry_wait' : STORED_TO_MACHINE[stored];
}

/** The planner's view: each flowlet's latest row, mapped (see above). */
export function stepsView(
  rows: readonly { step_id: string; seq: number; status: StoredStatus; output: Json | null }[],
  openTimers: ReadonlySet<string>,
): StepsView {
  const latest = new Map<string, (typeof rows)[number]>();
  for (const r of rows) {
    const cur = latest.get(r.step_id);
    if (!cur || r.seq > cur.seq) latest.set(r.step_id, r);
  }
  const view: Record<string, StepView> = {};
  for (const [id, r] of latest) {
    view[id] = { status: machineStatus(r.status, openTimers.has(id)), output: r.output ?? undefined };
  }
  return view;
}

// ---- the compiled flow -------------------------------------------------------------------------
// A definition is compiled (schema, graph, CEL type-check) once per process and definition text;
// an execution's definition is the pinned version's, so the cache only ever grows by versions.

const compiledCache = new Map<string, CompiledFlow>();
const CACHE_MAX = 500;

export class ExpressionFailure extends Error {
  readonly code = 'EXPRESSION_ERROR';
}

export function compiledFlow(def: FlowDefinition): CompiledFlow {
  const key = JSON.stringify(def);
  const hit = compiledCache.get(key);
  if (hit) return hit;
  const r = compileFlow(def);
  if (!r.ok)
    throw new ExpressionFailure(
      `definition does not compile: ${r.problems.map((p) => `${p.pointer} ${p.code}`).join('; ')}`,
    );
  if (compiledCache.size >= CACHE_MAX) compiledCache.delete(compiledCache.keys().next().value!);
  compiledCache.set(key, r.flow);
  return r.flow;
}

/** A flowlet result of the pure core, or the step's EXPRESSION_ERROR. */
export function orFail<T>(r: ({ ok: true } & T) | { ok: false; error: Error }): T {
  if (!r.ok) throw new ExpressionFailure(r.error.message);
  return r;
}
