import { assertValidEvent, buildEvent, topicForEvent, type EventEnvelope } from '@flow8/contracts';
import type { Actor, EventPayloads, EventType, ResourceRef } from '@flow8/contracts';
import type { Queryable } from '@flow8/db';
import { currentTraceparent } from '@flow8/telemetry';

/** A fact to record: `emit` gives it its id, time and the current trace. */
export interface EventInput<T extends EventType> {
  type: T;
  tenantId: string;
  actor: Actor;
  resource: ResourceRef;
  payload: EventPayloads[T];
  purpose?: string | null;
  occurredAt?: Date;
}

export interface Outbox {
  /**
   * THE way a service records a fact: builds the envelope (UUIDv7, UTC ms time, the current
   * traceparent), validates it against its contract and adds it inside the caller's transaction,
   * so the fact commits or rolls back with the state change. Returns the envelope.
   */
  emit<T extends EventType>(tx: Queryable, event: EventInput<T>): Promise<EventEnvelope<T>>;
  /**
   * Adds an envelope that already exists (a replay, a test fixture) inside the caller's
   * transaction. The event is validated against its contract first, so an invalid event aborts
   * the state change with it. Services record new facts with `emit`, never with `add`.
   */
  add<T extends EventType>(tx: Queryable, event: EventEnvelope<T>): Promise<void>;
  /**
   * Adds a work message (a command, not a fact) inside the caller's transaction, so the work is
   * published if and only if the decision to do it commits — in outbox order with the facts of
   * the same transaction. The caller validates its own command contract (commands are private to
   * the service that produces and consumes them) and picks the key that keeps its order.
   */
  command(tx: Queryable, message: OutboxCommand): Promise<void>;
}

export interface OutboxCommand {
  /** UUIDv7: the consumer's inbox dedupes on it. */
  id: string;
  tenantId: string;
  /** Full topic name, installation prefix included (`commandsTopic(domain, prefix)`). */
  topic: string;
  key: string;
  type: string;
  value: unknown;
}

// Named: prepared once per connection, not parsed and planned on every state change (the text
// never varies, so every Outbox on a connection shares it).
const INSERT_OUTBOX = {
  name: 'flow8.outbox.insert',
  text: `INSERT INTO outbox (event_id, tenant_id, event_type, topic, value, headers) VALUES ($1, $2, $3, $4, $5, $6)`,
};

const INSERT_COMMAND = {
  name: 'flow8.outbox.insert_command',
  text: `INSERT INTO outbox (event_id, tenant_id, event_type, topic, value, headers, message_key) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
};

export function createOutbox(opts: { topicPrefix?: string } = {}): Outbox {
  const prefix = opts.topicPrefix ?? '';
  const outbox: Outbox = {
    async emit(tx, input) {
      const event = buildEvent({ ...input, traceparent: currentTraceparent() ?? null });
      await outbox.add(tx, event);
      return event;
    },
    async add(tx, event) {
      assertValidEvent(event);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'flow8-event-type': event.type,
        'flow8-event-id': event.id,
      };
      if (event.traceparent) headers.traceparent = event.traceparent;
      await tx.query(INSERT_OUTBOX, [
        event.id,
        event.tenantId,
        event.type,
        topicForEvent(event.type, prefix),
        Buffer.from(JSON.stringify(event)),
        headers,
      ]);
    },
    async command(tx, m) {
      if (!/\.commands\.v\d+$/.test(m.topic)) throw new Error(`${m.topic} is not a commands topic`);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'flow8-command-type': m.type,
        'flow8-command-id': m.id,
      };
      const traceparent = currentTraceparent();
      if (traceparent) headers.traceparent = traceparent;
      await tx.query(INSERT_COMMAND, [
        m.id,
        m.tenantId,
        m.type,
        m.topic,
        Buffer.from(JSON.stringify(m.value)),
        headers,
        m.key,
      ]);
    },
  };
  return outbox;
}
