import type { Actor, ResourceRef } from './generated/index';
import type { EventType, EventPayloads } from './generated/index';
import { uuidv7 } from './ids';
import type { EventEnvelope } from './validate';

/** Builds an envelope with a fresh UUIDv7 and a millisecond UTC timestamp. */
export function buildEvent<T extends EventType>(input: {
  type: T;
  tenantId: string;
  actor: Actor;
  resource: ResourceRef;
  payload: EventPayloads[T];
  purpose?: string | null;
  traceparent?: string | null;
  occurredAt?: Date;
}): EventEnvelope<T> {
  return {
    id: uuidv7(),
    type: input.type,
    tenantId: input.tenantId,
    actor: input.actor,
    resource: input.resource,
    occurredAt: (input.occurredAt ?? new Date()).toISOString(),
    purpose: input.purpose ?? null,
    traceparent: input.traceparent ?? null,
    payload: input.payload,
  };
}

/** The actor of a request nobody is authenticated for yet (e.g. a failed login of an unknown user). */
export function anonymousActor(ip: string | null): Actor {
  return { type: 'system', id: 'anonymous', ip };
}

/** A service acting on its own account, for work nobody requested in the moment (e.g. re-encryption). */
export function serviceActor(service: string): Actor {
  return { type: 'service', id: service, ip: null };
}
