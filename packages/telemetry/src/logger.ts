import { hostname } from 'node:os';
import pino from 'pino';
import { activeTraceIds } from './tracing';

export type Logger = pino.Logger;

export const REDACTED = '[REDACTED]';

/**
 * Object keys whose values are never logged, whatever they hold. Matched at any
 * depth, ignoring case, `-` and `_` (so `apiKey`, `api_key`, `X-Api-Key` all match).
 */
export const SECRET_KEYS = [
  'password',
  'passwd',
  'secret',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'sessionToken',
  'apiKey',
  'x-api-key',
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'encryptionKey',
  'privateKey',
  'clientSecret',
  'ciphertext',
  'dataKey',
  'wrappedKey',
  'csrfToken',
  'codeVerifier',
  // OAuth2: the authorization code and the state of a started authorization.
  'code',
  'state',
  'plaintext',
] as const;

/**
 * Fields of a serialized error kept although their name is in SECRET_KEYS: an error's `code`
 * (ECONNREFUSED, 23505, FST_ERR_…) is what an operator needs, and is not an OAuth code.
 */
const ERROR_FIELDS = new Set(['code']);

const normalizeKey = (key: string): string => key.toLowerCase().replace(/[-_]/g, '');
const secretKeySet = new Set<string>(SECRET_KEYS.map(normalizeKey));

// Beyond this many levels a subtree is replaced rather than walked: it bounds the
// cost of a pathological object and never lets an unexamined subtree through.
const MAX_DEPTH = 10;
const TRUNCATED = '[...]';

// pino serializes errors into objects with this prototype; they are walked like plain objects.
const serializedErrorProto: unknown = Object.getPrototypeOf(pino.stdSerializers.err(new Error('probe')));

/**
 * A copy of `value` with secret keys censored at any depth. Plain objects, arrays
 * and errors are walked (copy-on-write: the caller's object is never modified);
 * errors become pino's `{ type, message, stack, …own fields }` first, so fields an
 * HTTP client hangs on its errors (`config.headers.authorization`) are censored too.
 * Other class instances (Date, Buffer, IncomingMessage …) are left to their serializers.
 */
export function censorSecretKeys(value: unknown, depth = 0, ancestors: object[] = []): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.includes(value)) return value; // pino prints "[Circular]"
  if (isErrorLike(value)) return censorSecretKeys(pino.stdSerializers.err(value), depth, ancestors);
  const walkable = Array.isArray(value) || isPlainObject(value);
  if (!walkable) return value;
  if (depth >= MAX_DEPTH) return TRUNCATED;
  ancestors.push(value);
  try {
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      value.forEach((item: unknown, i) => {
        const censored = censorSecretKeys(item, depth + 1, ancestors);
        if (censored !== item) (copy ??= value.slice())[i] = censored;
      });
      return copy ?? value;
    }
    // A serialized error is always copied: JSON output must not depend on its prototype.
    const serializedError = Object.getPrototypeOf(value) === serializedErrorProto;
    let copy: Record<string, unknown> | undefined = serializedError ? { ...value } : undefined;
    for (const [key, item] of Object.entries(value)) {
      const name = normalizeKey(key);
      const secret = secretKeySet.has(name) && !(serializedError && ERROR_FIELDS.has(name) && typeof item === 'string');
      const censored = secret ? REDACTED : censorSecretKeys(item, depth + 1, ancestors);
      if (censored !== item) (copy ??= { ...value })[key] = censored;
    }
    return copy ?? value;
  } finally {
    ancestors.pop();
  }
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null || proto === serializedErrorProto;
}

// Not `instanceof Error` alone: errors from another realm (vm, jest) fail that check.
function isErrorLike(value: object): value is Error {
  if (value instanceof Error) return true;
  return !isPlainObject(value) && Object.prototype.toString.call(value) === '[object Error]';
}

export interface LoggerOptions {
  service: string;
  /** pino level; default `info`. */
  level?: string;
  /** Defaults to stdout. */
  destination?: pino.DestinationStream;
  /**
   * Literal secret values (e.g. the loaded config's keys and passwords) scrubbed from
   * every line, wherever they appear: message, error stack, any field. Called per
   * line, so rotated secrets are picked up.
   */
  secrets?: () => Iterable<string>;
}

/**
 * A pino logger: JSON lines carrying `service`, `trace_id`/`span_id` of the active
 * span, secret keys censored at any depth (also inside serialized errors), and — when `secrets`
 * is given — those literal values replaced by `[REDACTED]` as the last line of defence.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const secrets = opts.secrets;
  const logger = pino(
    {
      level: opts.level ?? 'info',
      base: { service: opts.service, pid: process.pid, hostname: hostname() },
      timestamp: pino.stdTimeFunctions.isoTime,
      // pino's own `redact` only reaches a fixed path per wildcard level and costs
      // ~20µs per level per line; one copy-on-write walk covers every depth for less.
      formatters: {
        level: (label) => ({ level: label }),
        log: (obj) => censorSecretKeys(obj) as Record<string, unknown>,
      },
      // censorSecretKeys already turned errors into censored plain objects; pino's
      // err serializer would otherwise see a plain object and relabel it "Object".
      serializers: { err: (e: unknown) => e },
      mixin: () => activeTraceIds(),
      hooks: secrets ? { streamWrite: (line) => scrubSecrets(line, secrets()) } : {},
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
  // pino passes neither child bindings nor serializer output through formatters.log,
  // and Fastify adds its req/res serializers through child(); censor both on the way
  // in. Children inherit this override through their prototype chain.
  type ChildFn = (this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => Logger;
  // Via unknown: pino's child() is generic over custom levels, which we never use.
  const protoChild = logger.child as unknown as ChildFn;
  const child: ChildFn = function (bindings, options) {
    const serializers = options?.serializers;
    const censoredOptions =
      serializers === undefined
        ? options
        : {
            ...options,
            serializers: Object.fromEntries(
              Object.entries(serializers).map(([key, fn]) => [key, (v: unknown) => censorSecretKeys(fn(v))]),
            ),
          };
    return protoChild.call(this, censorSecretKeys(bindings) as pino.Bindings, censoredOptions);
  };
  Object.defineProperty(logger, 'child', { value: child, writable: true, configurable: true });
  return logger;
}

/**
 * Replace every occurrence of each secret in a serialized JSON line. A secret is
 * matched both raw and JSON-escaped (quotes, backslashes and newlines change
 * shape inside a JSON string). Longest first, so a secret containing another is
 * removed whole.
 */
export function scrubSecrets(line: string, secrets: Iterable<string>): string {
  const forms = new Set<string>();
  for (const s of secrets) {
    // An empty string would match everywhere; a 1–2 char "secret" is not one and would shred the line.
    if (typeof s !== 'string' || s.length < 3) continue;
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  let out = line;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    if (out.includes(form)) out = out.split(form).join(REDACTED);
  }
  return out;
}
