import { accessSync, constants, statSync } from 'node:fs';
import { z } from 'zod';

// Every message here describes what was expected, never what was received:
// the received value may be a secret that ends up in a crash log.

/**
 * Schemas that hold secrets. loadConfig refuses a default on any of them and
 * scrubs their values from every message, whatever their length.
 */
const secretSchemas = new WeakSet<z.ZodTypeAny>();

function markSecret<T extends z.ZodTypeAny>(schema: T): T {
  secretSchemas.add(schema);
  return schema;
}

/** True if `schema` was built by secret() or base64Key() (possibly wrapped). */
export function isSecretSchema(schema: z.ZodTypeAny): boolean {
  return secretSchemas.has(schema);
}

const required = { required_error: 'required', invalid_type_error: 'must be a string' };

/** A required, non-empty string. */
export function str(): z.ZodString {
  return z.string(required).min(1, 'must not be empty');
}

/**
 * A required, non-empty secret string. Adding `.default()` makes loadConfig
 * throw: a secret with a default is a secret everybody knows.
 */
export function secret(): z.ZodString {
  return markSecret(z.string(required).min(1, 'must not be empty'));
}

function integer(min: number, max: number, message: string) {
  // Stricter than z.coerce.number(): that accepts "", " 80", "0x50" and "1e3".
  return z
    .string(required)
    .regex(/^-?\d+$/, message)
    .transform(Number)
    .pipe(z.number().int().min(min, message).max(max, message));
}

/** A TCP port 1..65535 given as a decimal string. */
export function port(defaultValue?: number) {
  const schema = integer(1, 65535, 'must be a whole number between 1 and 65535');
  return defaultValue === undefined ? schema : schema.default(checkedDefault(schema, String(defaultValue)));
}

/** A whole number within [min, max]. */
export function int(opts: { min?: number; max?: number; default?: number } = {}) {
  const min = opts.min ?? Number.MIN_SAFE_INTEGER;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  const range =
    opts.min !== undefined && opts.max !== undefined
      ? ` between ${min} and ${max}`
      : opts.min !== undefined
        ? ` >= ${min}`
        : opts.max !== undefined
          ? ` <= ${max}`
          : '';
  const schema = integer(min, max, `must be a whole number${range}`);
  return opts.default === undefined ? schema : schema.default(checkedDefault(schema, String(opts.default)));
}

/** `true`/`false`/`1`/`0` (case-insensitive) → boolean. Anything else is a problem, never false. */
export function bool(defaultValue?: boolean) {
  const schema = z.string(required).transform((v, ctx) => {
    const lower = v.toLowerCase();
    if (lower === 'true' || lower === '1') return true;
    if (lower === 'false' || lower === '0') return false;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be one of true, false, 1, 0' });
    return z.NEVER;
  });
  return defaultValue === undefined ? schema : schema.default(String(defaultValue));
}

/** An absolute URL, optionally restricted to some protocols (`'https'` or `'https:'`). Stays a string. */
export function url(opts: { protocols?: readonly string[] } = {}) {
  const protocols = opts.protocols?.map((p) => (p.endsWith(':') ? p : `${p}:`).toLowerCase());
  const expected = protocols
    ? `must be a URL with protocol ${protocols.map((p) => p.slice(0, -1)).join(' or ')}`
    : 'must be a URL';
  return z
    .string(required)
    .min(1, 'must not be empty')
    .superRefine((v, ctx) => {
      let parsed: URL;
      try {
        parsed = new URL(v);
      } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: expected });
        return;
      }
      if (protocols && !protocols.includes(parsed.protocol)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: expected });
      }
    });
}

/** `a, b,c` → `['a', 'b', 'c']`. Empty entries (`a,,b`, `a,`) are a problem, not silently dropped. */
export function csv() {
  return z
    .string(required)
    .min(1, 'must not be empty')
    .transform((v, ctx) => {
      const items = v.split(',').map((s) => s.trim());
      if (items.some((s) => s.length === 0)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a comma-separated list without empty entries' });
        return z.NEVER;
      }
      return items;
    });
}

/**
 * Public keys per calling service: `name:base64,name:base64,…` (raw 32-byte Ed25519 keys; a name
 * may appear twice during a key change) → Map<name, keys>. Empty string: no service trusted.
 * Public keys, so not a secret.
 */
export function serviceKeys() {
  return z.string({ invalid_type_error: 'must be a string' }).transform((v, ctx) => {
    const out = new Map<string, Uint8Array[]>();
    if (v.trim() === '') return out;
    for (const entry of v.split(',').map((s) => s.trim())) {
      const m = /^([a-z][a-z0-9-]{0,62}):(.+)$/.exec(entry);
      const raw = m && BASE64.test(m[2]!) ? Buffer.from(m[2]!, 'base64') : null;
      if (!m || !raw || raw.length !== 32) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: 'must be a comma-separated list of <service>:<base64 of a raw 32-byte Ed25519 public key>',
        });
        return z.NEVER;
      }
      out.set(m[1]!, [...(out.get(m[1]!) ?? []), new Uint8Array(raw)]);
    }
    return out;
  });
}

/** One of a fixed set of strings. The message lists the allowed values (never the received one). */
export function enumOf<U extends string, T extends Readonly<[U, ...U[]]>>(values: T) {
  return z.enum(values, {
    errorMap: (issue) =>
      issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined'
        ? { message: 'required' }
        : { message: `must be one of ${values.join(', ')}` },
  });
}

/** A path to a regular file this process can read. */
export function filePath() {
  return z
    .string(required)
    .min(1, 'must not be empty')
    .superRefine((p, ctx) => {
      try {
        accessSync(p, constants.R_OK);
        if (!statSync(p).isFile()) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must name a regular file, not a directory' });
        }
      } catch (e) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `file does not exist or is not readable (${errorCode(e)})`,
        });
      }
    });
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard base64 that decodes to exactly `bytes` bytes → Uint8Array. A secret: no default allowed. */
export function base64Key(bytes: number) {
  return markSecret(
    z
      .string(required)
      .min(1, 'must not be empty')
      .transform((v, ctx) => {
        // Buffer.from(…, 'base64') ignores junk silently; validate first so a typo is a problem.
        if (!BASE64.test(v)) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: `must be standard base64 encoding exactly ${bytes} bytes`,
          });
          return z.NEVER;
        }
        const decoded = Buffer.from(v, 'base64');
        if (decoded.length !== bytes) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: `must decode to exactly ${bytes} bytes, got ${decoded.length}`,
          });
          return z.NEVER;
        }
        return new Uint8Array(decoded);
      }),
  );
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses `500ms`, `30s`, `5m`, `1h`, `2d` or a bare number of milliseconds; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? 'ms') as keyof typeof UNIT_MS;
  const ms = Number(m[1]) * UNIT_MS[unit];
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** A duration (`500ms`, `30s`, `5m`, `1h`, `2d`, or bare milliseconds) → milliseconds. */
export function duration(defaultValue?: string | number) {
  const schema = z.string(required).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: 'must be a duration like 500ms, 30s, 5m, 1h, 2d or a whole number of milliseconds',
      });
      return z.NEVER;
    }
    return ms;
  });
  return defaultValue === undefined ? schema : schema.default(checkedDefault(schema, String(defaultValue)));
}

/** A bad default is a code bug: fail where the schema is built, not at some later boot. */
function checkedDefault(schema: z.ZodTypeAny, value: string): string {
  if (!schema.safeParse(value).success) throw new TypeError(`invalid default for config field: ${value}`);
  return value;
}

function errorCode(e: unknown): string {
  // Not `instanceof Error`: errors from node:fs come from another realm under jest's VM.
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return 'unreadable';
}

export { errorCode as fsErrorCode };
