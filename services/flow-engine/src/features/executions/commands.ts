// The work messages on flow8.flow.commands.v1 (private to the engine: it both produces and
// consumes them). Keyed by execution id, so one execution's commands stay in order on one
// partition. A command is only a doorbell — "step run R is ready" — the step row in Postgres is
// the truth; a command for a row no longer `scheduled` is stale and ignored.
import { z } from 'zod';

export const runStepCommand = z
  .object({
    v: z.literal(1),
    type: z.literal('step.run'),
    /** UUIDv7; the inbox dedupes on it. */
    id: z.string().uuid(),
    tenantId: z.string().regex(/^ten_[0-9a-z]{26}$/),
    executionId: z.string().regex(/^exe_[0-9a-z]{26}$/),
    stepRunId: z.string().uuid(),
  })
  .strict();

export type RunStepCommand = z.infer<typeof runStepCommand>;

export type CommandParse =
  | { ok: true; command: RunStepCommand }
  | { ok: false; reason: 'MALFORMED_JSON' | 'CONTRACT_VIOLATION'; errors: string[] };

export function parseCommand(value: Buffer | null): CommandParse {
  if (!value) return { ok: false, reason: 'MALFORMED_JSON', errors: ['message has no value'] };
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: 'MALFORMED_JSON', errors: [(e as Error).message] };
  }
  const r = runStepCommand.safeParse(json);
  if (!r.success)
    return {
      ok: false,
      reason: 'CONTRACT_VIOLATION',
      errors: r.error.issues.map((i) => `/${i.path.join('/')} ${i.message}`),
    };
  return { ok: true, command: r.data };
}
