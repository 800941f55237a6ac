// Validation of every event, on produce and on consume. A message that fails here is never
// processed: consumers dead-letter it with the reasons this returns.
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { iJsonProblem } from '@flow8/crypto';
import { domainOf, domainOfEventsTopic } from './topics';
import {
  envelopeSchema,
  eventPayloadSchemas,
  type EventEnvelope as GeneratedEnvelope,
  type EventPayloads,
  type EventType,
} from './generated/index';

export type EventEnvelope<T extends EventType = EventType> = Omit<GeneratedEnvelope, 'type' | 'payload'> & {
  type: T;
  payload: EventPayloads[T];
};
/** Any valid event, as a discriminated union on `type`. */
export type AnyEvent = { [T in EventType]: EventEnvelope<T> }[EventType];

export type ValidationResult<T> =
  | { ok: true; value: T }
  | { ok: false; reason: 'MALFORMED_JSON' | 'CONTRACT_VIOLATION' | 'UNKNOWN_EVENT_TYPE'; errors: string[] };

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
const validateEnvelopeFn = ajv.compile(envelopeSchema as object);
const payloadValidators = new Map<string, ValidateFunction>(
  Object.entries(eventPayloadSchemas).map(([type, schema]) => [type, ajv.compile(schema as object)]),
);

function describe(errors: ErrorObject[] | null | undefined, base: string): string[] {
  // Only paths and rule messages: never the offending values, which could be secrets.
  return (errors ?? []).map((e) => `${base}${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

export function isKnownEventType(type: string): type is EventType {
  return payloadValidators.has(type);
}

/** `occurredAt` matches the schema's pattern; it must also name a real instant (no 30 February). */
function realInstant(iso: string): boolean {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) && new Date(ms).toISOString() === iso;
}

/**
 * An event is valid when it is I-JSON (RFC 7493: what the audit ledger can canonicalise and
 * hash — no lone surrogates, no non-finite numbers), its envelope and payload match their JSON
 * Schemas, and its time is a real instant. The same check runs on produce (assertValidEvent)
 * and on consume (parseEvent), so nothing the ledger would refuse ever reaches a topic.
 */
export function validateEvent(value: unknown): ValidationResult<AnyEvent> {
  const notIJson = iJsonProblem(value);
  if (notIJson !== null) {
    return {
      ok: false,
      reason: 'CONTRACT_VIOLATION',
      errors: [`${notIJson.replace(/^cannot canonicalize /, '')} (an event must be I-JSON, RFC 7493)`],
    };
  }
  if (!validateEnvelopeFn(value)) {
    return { ok: false, reason: 'CONTRACT_VIOLATION', errors: describe(validateEnvelopeFn.errors, '') };
  }
  const envelope = value as GeneratedEnvelope;
  if (!realInstant(envelope.occurredAt)) {
    return { ok: false, reason: 'CONTRACT_VIOLATION', errors: ['/occurredAt is not a real UTC instant'] };
  }
  const validatePayload = payloadValidators.get(envelope.type);
  if (!validatePayload) {
    return { ok: false, reason: 'UNKNOWN_EVENT_TYPE', errors: [`/type ${envelope.type} is not a known event type`] };
  }
  if (!validatePayload(envelope.payload)) {
    return { ok: false, reason: 'CONTRACT_VIOLATION', errors: describe(validatePayload.errors, '/payload') };
  }
  return { ok: true, value: value as AnyEvent };
}

/**
 * Parses and validates a consumed message. With `topic`, an event whose type belongs to another
 * domain than the events topic it arrived on is refused too: a service may produce only to its
 * own domain's topic, so an `identity.*` event on the vault topic is a forgery, not an event.
 */
export function parseEvent(
  bytes: Buffer | Uint8Array | string | null,
  opts: { topic?: string } = {},
): ValidationResult<AnyEvent> {
  if (bytes === null) return { ok: false, reason: 'MALFORMED_JSON', errors: ['message has no value'] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    return { ok: false, reason: 'MALFORMED_JSON', errors: [(e as Error).message] };
  }
  const r = validateEvent(parsed);
  if (r.ok && opts.topic !== undefined) {
    const topicDomain = domainOfEventsTopic(opts.topic);
    if (topicDomain !== null && domainOf(r.value.type) !== topicDomain) {
      return {
        ok: false,
        reason: 'CONTRACT_VIOLATION',
        errors: [`/type ${r.value.type} does not belong on ${opts.topic}: only ${topicDomain}.* events do`],
      };
    }
  }
  return r;
}

export class ContractViolation extends Error {
  constructor(readonly errors: string[]) {
    super(`event violates its contract: ${errors.join('; ')}`);
    this.name = 'ContractViolation';
  }
}

/** For producers: throws when the event does not match its contract, so it never reaches the outbox. */
export function assertValidEvent<T extends EventType>(event: EventEnvelope<T>): EventEnvelope<T> {
  const r = validateEvent(event);
  if (!r.ok) throw new ContractViolation(r.errors);
  return event;
}
