export * from './generated/index';
export { uuidv7, newId, isId, ID_PREFIXES, type IdPrefix } from './ids';
export {
  eventsTopic,
  commandsTopic,
  dlqTopic,
  domainOf,
  domainOfEventsTopic,
  topicForEvent,
  eventsTopicPattern,
} from './topics';
export {
  validateEvent,
  parseEvent,
  assertValidEvent,
  isKnownEventType,
  ContractViolation,
  type EventEnvelope,
  type AnyEvent,
  type ValidationResult,
} from './validate';
export { buildEvent, anonymousActor, serviceActor } from './event';
