// "A dependency is down" as opposed to "we have a bug": a refused or dropped connection, a
// connection timeout, a database that is starting up or shutting down. The error model answers
// these with 503 UNAVAILABLE and Retry-After (clients and load balancers retry), not 500.
//
// Recognised by what the drivers put on their errors (no driver is imported here): Node's
// socket error codes, PostgreSQL SQLSTATEs, and the fixed messages pg, pg-pool and ioredis throw
// when they have no connection. The `cause` chain and AggregateError members are followed.

// Node / libuv socket errors: the peer is not there or went away.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EPIPE',
  'EAI_AGAIN',
]);

// SQLSTATEs of a server that cannot serve now (class 08 is handled as a whole below).
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown: "terminating connection due to administrator command"
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: "the database system is starting up" / "... shutting down"
  '53300', // too_many_connections
]);

// Fixed messages of clients that have no connection to use.
const UNAVAILABLE_MESSAGES = [
  'Connection terminated', // pg: "... unexpectedly", "... due to connection timeout"
  'timeout exceeded when trying to connect', // pg-pool
  'Client has encountered a connection error and is not queryable', // pg
  'Query read timeout', // pg
  'Connection is closed.', // ioredis
  "Stream isn't writeable", // ioredis without an offline queue
];

/** The Retry-After (seconds) sent with every 503: long enough for a restart, short enough to retry. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

function prop(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function isOwnUnavailable(err: unknown): boolean {
  const code = prop(err, 'code');
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code)) return true;
    // SQLSTATE class 08: connection exception (e.g. 08006 connection_failure).
    if (/^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  if (prop(err, 'name') === 'MaxRetriesPerRequestError') return true; // ioredis
  const message = prop(err, 'message');
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => message.startsWith(m));
}

/** true when the error (or what it wraps) says a dependency is unreachable or not serving. */
export function isDependencyUnavailable(err: unknown, depth = 0): boolean {
  if (err === null || err === undefined || depth > 5) return false;
  if (isOwnUnavailable(err)) return true;
  const errors = prop(err, 'errors');
  if (Array.isArray(errors) && errors.some((e) => isDependencyUnavailable(e, depth + 1))) return true;
  return isDependencyUnavailable(prop(err, 'cause'), depth + 1);
}
