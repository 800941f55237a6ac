import type { Json } from '../flows/definition/types';
import type { Clock } from '../../runtime/clock';

export interface OperationContext {
  input: Record<string, Json>;
  /** Stable per (execution, step) across attempts: what a provider dedupes on. */
  idempotencyKey: string;
  /** Attempts counted so far, this one included. */
  attempt: number;
  /** Aborted at the step's deadline or when the execution is cancelled. */
  signal: AbortSignal;
  clock: Clock;
}

export interface Operation {
  /** `<integration>.<operation>`. */
  id: string;
  /**
   * Safe to run again after an unclear outcome (a worker lost mid-call): the provider dedupes on
   * the idempotency key, or the operation has no side effect. When false, a lost worker turns
   * the step `ambiguous` instead of repeating it.
   */
  idempotent: boolean;
  run(ctx: OperationContext): Promise<Json>;
}

export interface OperationRegistry {
  get(integration: string, operation: string): Operation | undefined;
}

export function createRegistry(operations: Operation[]): OperationRegistry {
  const byId = new Map(operations.map((o) => [o.id, o]));
  return { get: (integration, operation) => byId.get(`${integration}.${operation}`) };
}
