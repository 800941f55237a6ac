// One place that turns a fact into an outbox row inside the caller's transaction.
import type { Outbox } from '@flow8/bus';
import { buildEvent, type Actor, type EventPayloads, type EventType, type ResourceRef } from '@flow8/contracts';
import type { Queryable } from '@flow8/db';
import { currentTraceparent } from '@flow8/telemetry';

export async function emit<T extends EventType>(
  tx: Queryable,
  outbox: Pick<Outbox, 'add'>,
  e: { type: T; tenantId: string; actor: Actor; resource: ResourceRef; payload: EventPayloads[T]; purpose?: string },
): Promise<void> {
  await outbox.add(tx, buildEvent({ ...e, traceparent: currentTraceparent() ?? null }));
}

/** The vault's own actor, for work nobody requested in the moment (background re-encryption). */
export const VAULT_ACTOR: Actor = { type: 'service', id: 'credential-vault', ip: null };
