// API for the engine — the pure execution core (no I/O, no Date.now(), no Math.random()):
//   planner.ts      planNext(flow, steps) → { ready, skip, ambiguous, finished }; bindingsFor(flow, id, data)
//   step-machine.ts transition(state, event, { now, policy, random, idempotent }) → { next, effects } | { rejected }
//   retry-policy.ts retryDelayMs(policy, nextAttempt, random); decideRetry(input) → retry | fail | ambiguous
//   flowlets.ts     runMap, actionInput, chooseBranch, approvalSummary (+ digest), foreachItems,
//                   foreachBody, collectForeach, delayUntil — CEL through ../../expressions
// In CEL, `steps.<id>` is the output of flowlet <id> itself (not `steps.<id>.output`).
export {
  bindingsFor,
  edgeState,
  planNext,
  type ExecutionData,
  type ExecutionOutcome,
  type PlanResult,
  type StepView,
  type StepsView,
} from './planner';
export {
  STEP_EVENT_TYPES,
  STEP_STATUSES,
  TERMINAL,
  initialStep,
  isTerminal,
  transition,
  type Effect,
  type StepError,
  type StepEvent,
  type StepEventType,
  type StepState,
  type StepStatus,
  type TransitionEnv,
  type TransitionResult,
} from './step-machine';
export {
  RATE_LIMIT_CAPS,
  decideRetry,
  retryDelayMs,
  type RetryDecision,
  type RetryInput,
  type StepFailure,
} from './retry-policy';
export {
  actionInput,
  approvalSummary,
  canonicalJson,
  chooseBranch,
  collectForeach,
  delayUntil,
  foreachBody,
  foreachItems,
  runMap,
  type FlowletResult,
} from './flowlets';
