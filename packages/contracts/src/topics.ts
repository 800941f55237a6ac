import type { Domain, EventType } from './generated/index';

/**
 * Topic names: `flow8.<domain>.<events|commands>.v<N>`, dead letters on `<topic>.dlq`.
 * `prefix` namespaces a whole installation (or one test suite) on a shared broker; it is
 * empty in production.
 */
export function eventsTopic(domain: Domain | string, prefix = ''): string {
  return `${prefix}flow8.${domain}.events.v1`;
}

/** The work topic of a domain (commands, keyed by what must stay in order, e.g. an execution). */
export function commandsTopic(domain: Domain | string, prefix = ''): string {
  return `${prefix}flow8.${domain}.commands.v1`;
}

export function dlqTopic(topic: string): string {
  return `${topic}.dlq`;
}

export function domainOf(type: EventType | string): string {
  const domain = type.split('.')[0];
  if (!domain) throw new Error(`event type ${type} has no domain`);
  return domain;
}

export function topicForEvent(type: EventType | string, prefix = ''): string {
  return eventsTopic(domainOf(type), prefix);
}

/** The domain of an events topic (`<prefix>flow8.<domain>.events.v<N>`); null for any other topic. */
export function domainOfEventsTopic(topic: string): string | null {
  return /(?:^|\.)flow8\.([a-z][a-z0-9_-]*)\.events\.v\d+$/.exec(topic)?.[1] ?? null;
}

/** Matches every events topic (not commands, not dead letters) under a prefix. */
export function eventsTopicPattern(prefix = ''): RegExp {
  const p = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${p}flow8\\.[a-z][a-z0-9_-]*\\.events\\.v\\d+$`);
}
