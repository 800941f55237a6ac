import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { fsErrorCode, isSecretSchema } from './fields';

export type Env = Record<string, string | undefined>;

export interface LoadConfigOptions {
  /** Defaults to process.env. */
  env?: Env;
  /** Used as the prefix of the message parseConfigOrExit prints. */
  service?: string;
}

/** Every problem found in the environment, as `KEY: message` lines. Never contains a value. */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

// Values shorter than this are not scrubbed from messages unless they belong to a
// secret field: scrubbing "1" or "info" would mangle messages ("between 1 and …")
// and such short values are not secrets.
const MIN_SCRUB_LENGTH = 6;

/**
 * Parse the environment with `schema`, a z.object whose keys are env var names.
 * `KEY_FILE` supplies KEY from a mounted file (trailing newlines trimmed).
 * Collects every problem and throws one ConfigError listing them all.
 */
export function loadConfig<S extends z.ZodTypeAny>(schema: S, options: LoadConfigOptions = {}): z.infer<S> {
  const env = options.env ?? process.env;
  const shape = objectShape(schema);
  const problems: string[] = [];
  const input: Record<string, string | undefined> = {};
  // Keys whose _FILE variant already produced a problem: zod would only add a noisy "required".
  const keysWithFileProblem = new Set<string>();
  const secretValues: string[] = [];
  const otherValues: string[] = [];

  for (const [key, field] of Object.entries(shape)) {
    assertNoSilentFallback(key, field);
    const fileVar = `${key}_FILE`;
    const direct = env[key];
    const file = env[fileVar];
    let value = direct;
    if (file !== undefined) {
      if (direct !== undefined) {
        problems.push(`${key}: set either ${key} or ${fileVar}, not both`);
        keysWithFileProblem.add(key);
        value = undefined;
      } else {
        try {
          value = readFileSync(file, 'utf8').replace(/[\r\n]+$/, '');
        } catch (e) {
          problems.push(`${fileVar}: cannot read the file (${fsErrorCode(e)})`);
          keysWithFileProblem.add(key);
        }
      }
    }
    input[key] = value;
    for (const v of [direct, value]) {
      if (v === undefined || v.length === 0) continue;
      if (isSecretField(field)) secretValues.push(v);
      else if (v.length >= MIN_SCRUB_LENGTH) otherValues.push(v);
    }
  }

  const result = schema.safeParse(input, { errorMap: valueFreeErrorMap });
  if (result.success && problems.length === 0) return result.data as z.infer<S>;

  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path.length > 0 ? issue.path.join('.') : 'config';
      if (keysWithFileProblem.has(String(issue.path[0]))) continue;
      problems.push(`${key}: ${issue.message}`);
    }
  }
  // Last line of defence: a hand-written refinement in a service schema may still
  // interpolate the value it rejected.
  const scrub = [...secretValues, ...otherValues].sort((a, b) => b.length - a.length);
  throw new ConfigError(problems.map((p) => scrub.reduce((msg, v) => msg.split(v).join('[REDACTED]'), p)));
}

/**
 * Every value of the schema's secret fields (`secret()`, `base64Key()`, possibly wrapped) as found
 * in the environment (`KEY` or the file named by `KEY_FILE`), in the forms it may show up in a log
 * line: the whole value, each comma-separated entry, the password of a URL (raw and
 * percent-decoded), and the hex form of a base64 key. For the logger's literal scrubbing: a
 * secret field added to a schema is scrubbed without anyone writing it down again.
 */
export function secretValues(schema: z.ZodTypeAny, options: LoadConfigOptions = {}): string[] {
  const env = options.env ?? process.env;
  const out = new Set<string>();
  const add = (v: string) => {
    if (v.length >= 3) out.add(v);
  };
  for (const [key, field] of Object.entries(objectShape(schema))) {
    if (!isSecretField(field)) continue;
    const values: string[] = [];
    if (env[key] !== undefined) values.push(env[key] as string);
    const file = env[`${key}_FILE`];
    if (file !== undefined) {
      try {
        values.push(readFileSync(file, 'utf8').replace(/[\r\n]+$/, ''));
      } catch {
        // loadConfig reports an unreadable file; nothing to scrub from it.
      }
    }
    for (const value of values) {
      for (const part of [value, ...value.split(',').map((s) => s.trim())]) {
        add(part);
        if (/^[A-Za-z0-9+/]+={0,2}$/.test(part) && part.length % 4 === 0) {
          add(Buffer.from(part, 'base64').toString('hex'));
          add(Buffer.from(part, 'base64').toString('base64url'));
        }
        try {
          const password = new URL(part).password;
          if (password) {
            add(password);
            add(decodeURIComponent(password));
          }
        } catch {
          // not a URL
        }
      }
    }
  }
  return [...out];
}

export interface ParseConfigOrExitOptions extends LoadConfigOptions {
  /** For tests; defaults to process.stderr. */
  stderr?: { write(text: string): unknown };
  /** For tests; defaults to process.exit. */
  exit?: (code: number) => never;
}

/** EX_CONFIG from sysexits.h: tells an orchestrator the deployment, not the code, is wrong. */
export const CONFIG_EXIT_CODE = 78;

/** loadConfig, or print every problem to stderr and exit 78. Call once at boot. */
export function parseConfigOrExit<S extends z.ZodTypeAny>(
  schema: S,
  options: ParseConfigOrExitOptions = {},
): z.infer<S> {
  try {
    return loadConfig(schema, options);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const service = options.service ?? 'flow8';
    const stderr = options.stderr ?? process.stderr;
    stderr.write(`${service}: invalid configuration:\n${e.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return (options.exit ?? process.exit)(CONFIG_EXIT_CODE);
  }
}

/**
 * zod's default messages for enums echo the received value; replace every message
 * that is not already custom with one that only says what was expected.
 */
const valueFreeErrorMap: z.ZodErrorMap = (issue, ctx) => {
  switch (issue.code) {
    case z.ZodIssueCode.invalid_type:
      return { message: issue.received === 'undefined' ? 'required' : `must be ${issue.expected}` };
    case z.ZodIssueCode.invalid_enum_value:
      return { message: `must be one of ${issue.options.map(String).join(', ')}` };
    case z.ZodIssueCode.invalid_literal:
      return { message: 'has an unexpected value' };
    case z.ZodIssueCode.custom:
      return { message: issue.message ?? 'is invalid' };
    default:
      return { message: ctx.defaultError };
  }
};

function objectShape(schema: z.ZodTypeAny): z.ZodRawShape {
  // Allow .superRefine() across fields on top of the object.
  let s: z.ZodTypeAny = schema;
  while (s instanceof z.ZodEffects) s = s.innerType();
  if (s instanceof z.ZodObject) return s.shape as z.ZodRawShape;
  throw new TypeError('loadConfig: the schema must be a z.object whose keys are environment variable names');
}

/** Peel wrappers (optional, default, effects, …) calling `visit` on each layer. */
function walk(field: z.ZodTypeAny, visit: (layer: z.ZodTypeAny) => void): void {
  let s: z.ZodTypeAny | undefined = field;
  while (s) {
    visit(s);
    if (
      s instanceof z.ZodOptional ||
      s instanceof z.ZodNullable ||
      s instanceof z.ZodDefault ||
      s instanceof z.ZodCatch ||
      s instanceof z.ZodReadonly
    ) {
      s = (s._def as { innerType: z.ZodTypeAny }).innerType;
    } else if (s instanceof z.ZodEffects) {
      s = s.innerType();
    } else if (s instanceof z.ZodPipeline) {
      s = (s._def as { in: z.ZodTypeAny }).in;
    } else if (s instanceof z.ZodBranded) {
      s = s.unwrap();
    } else {
      s = undefined;
    }
  }
}

function isSecretField(field: z.ZodTypeAny): boolean {
  let secret = false;
  walk(field, (layer) => {
    if (isSecretSchema(layer)) secret = true;
  });
  return secret;
}

/** Schema defects are code bugs, so they throw TypeError rather than become config problems. */
function assertNoSilentFallback(key: string, field: z.ZodTypeAny): void {
  let hasDefault = false;
  walk(field, (layer) => {
    if (layer instanceof z.ZodCatch) {
      throw new TypeError(`config field ${key}: .catch() would hide a bad value; remove it`);
    }
    if (layer instanceof z.ZodDefault) hasDefault = true;
  });
  if (hasDefault && isSecretField(field)) {
    throw new TypeError(`config field ${key}: a secret must not have a default`);
  }
}
