import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  base64Key,
  bool,
  ConfigError,
  csv,
  serviceKeys,
  duration,
  enumOf,
  filePath,
  httpFields,
  int,
  kafkaFields,
  loadConfig,
  metricsFields,
  metricsPort,
  parseConfigOrExit,
  port,
  secret,
  secretValues,
  str,
  telemetryFields,
  url,
} from './index';

const CANARY = 'canary-Zq8vN3xT7pLw2RkY';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'flow8-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeTmp(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

const key32 = Buffer.alloc(32, 7).toString('base64');

const serviceSchema = z.object({
  ...kafkaFields,
  ...httpFields,
  ...telemetryFields,
  DATABASE_PASSWORD: secret(),
  ENCRYPTION_KEY: base64Key(32),
  POLL_INTERVAL: duration('5s'),
  MAX_BATCH: int({ min: 1, max: 1000, default: 100 }),
  STRICT_MODE: bool(false),
});

describe('loadConfig', () => {
  it('returns typed values with defaults applied', () => {
    const cfg = loadConfig(serviceSchema, {
      env: {
        KAFKA_BROKERS: 'k1:9093, k2:9093',
        PORT: '8443',
        DATABASE_PASSWORD: 'pw',
        ENCRYPTION_KEY: key32,
        STRICT_MODE: 'TRUE',
      },
    });
    expect(cfg).toEqual({
      KAFKA_BROKERS: ['k1:9093', 'k2:9093'],
      HOST: '127.0.0.1',
      PORT: 8443,
      LOG_LEVEL: 'info',
      DATABASE_PASSWORD: 'pw',
      ENCRYPTION_KEY: new Uint8Array(Buffer.alloc(32, 7)),
      POLL_INTERVAL: 5000,
      MAX_BATCH: 100,
      STRICT_MODE: true,
    });
    expect(cfg.ENCRYPTION_KEY).toBeInstanceOf(Uint8Array);
  });

  it('reports every problem at once, one per key', () => {
    const problems = problemsOf(() =>
      loadConfig(serviceSchema, {
        env: {
          PORT: '70000',
          LOG_LEVEL: 'verbose',
          ENCRYPTION_KEY: 'not base64!',
          POLL_INTERVAL: '5 minutes',
          MAX_BATCH: '0',
          STRICT_MODE: 'yes',
          OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector',
        },
      }),
    );
    const keys = problems.map((p) => p.split(':')[0]).sort();
    expect(keys).toEqual(
      [
        'DATABASE_PASSWORD',
        'ENCRYPTION_KEY',
        'KAFKA_BROKERS',
        'LOG_LEVEL',
        'MAX_BATCH',
        'OTEL_EXPORTER_OTLP_ENDPOINT',
        'POLL_INTERVAL',
        'PORT',
        'STRICT_MODE',
      ].sort(),
    );
    expect(problems).toContain('DATABASE_PASSWORD: required');
    expect(problems).toContain('LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace');
    expect(problems).toContain('PORT: must be a whole number between 1 and 65535');
    expect(problems).toContain('STRICT_MODE: must be one of true, false, 1, 0');
  });

  it('reads KEY_FILE, trimming the trailing newline', () => {
    const file = writeTmp('db-password', 's3cr3t-from-file\n');
    const cfg = loadConfig(z.object({ DATABASE_PASSWORD: secret() }), { env: { DATABASE_PASSWORD_FILE: file } });
    expect(cfg.DATABASE_PASSWORD).toBe('s3cr3t-from-file');
  });

  it('reads a base64 key from KEY_FILE', () => {
    const file = writeTmp('enc-key', `${key32}\r\n`);
    const cfg = loadConfig(z.object({ ENCRYPTION_KEY: base64Key(32) }), { env: { ENCRYPTION_KEY_FILE: file } });
    expect(cfg.ENCRYPTION_KEY).toHaveLength(32);
  });

  it('refuses KEY and KEY_FILE together, and an unreadable KEY_FILE, without a duplicate "required"', () => {
    const file = writeTmp('pw2', 'x');
    const problems = problemsOf(() =>
      loadConfig(z.object({ A: secret(), B: secret() }), {
        env: { A: 'x', A_FILE: file, B_FILE: join(dir, 'missing') },
      }),
    );
    expect(problems).toEqual(['A: set either A or A_FILE, not both', 'B_FILE: cannot read the file (ENOENT)']);
  });

  it('treats an empty KEY_FILE as an empty value, which a secret refuses', () => {
    const file = writeTmp('empty', '\n');
    expect(problemsOf(() => loadConfig(z.object({ A: secret() }), { env: { A_FILE: file } }))).toEqual([
      'A: must not be empty',
    ]);
  });

  it.each([
    ['a wrong-type field', { PORT: CANARY }],
    ['an enum field', { LOG_LEVEL: CANARY }],
    ['a raw z.enum field', { MODE: CANARY }],
    ['a base64 key', { ENCRYPTION_KEY: CANARY }],
    ['a url field', { OTEL_EXPORTER_OTLP_ENDPOINT: CANARY }],
    ['a refinement that echoes its input', { ECHO: CANARY }],
  ])('never puts a value into a message: %s', (_label, env) => {
    const schema = z.object({
      ...httpFields,
      ...telemetryFields,
      MODE: z.enum(['a', 'b']).optional(),
      ENCRYPTION_KEY: base64Key(32).optional(),
      ECHO: z
        .string()
        .refine(
          (v) => v === 'ok',
          (v) => ({ message: `bad value ${v}` }),
        )
        .optional(),
    });
    const err = (() => {
      try {
        loadConfig(schema, { env });
      } catch (e) {
        return e;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const text = `${(err as ConfigError).message}\n${(err as ConfigError).problems.join('\n')}\n${(err as Error).stack}`;
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain('canary');
  });

  it('refuses a default on a secret and any .catch() fallback as code bugs', () => {
    expect(() => loadConfig(z.object({ S: secret().default('changeme') }), { env: {} })).toThrow(
      'S: a secret must not have a default',
    );
    expect(() => loadConfig(z.object({ K: base64Key(32).default(key32) }), { env: {} })).toThrow(TypeError);
    expect(() => loadConfig(z.object({ P: port().catch(80) }), { env: { P: 'x' } })).toThrow(/\.catch\(\)/);
  });

  it('allows an optional secret', () => {
    expect(loadConfig(z.object({ S: secret().optional() }), { env: {} })).toEqual({});
  });

  it('refuses an empty value instead of falling back to the default', () => {
    expect(problemsOf(() => loadConfig(z.object({ ...httpFields }), { env: { PORT: '' } }))).toEqual([
      'PORT: must be a whole number between 1 and 65535',
    ]);
  });

  it('supports cross-field refinements on the object', () => {
    const schema = z
      .object({ MIN: int(), MAX: int() })
      .refine((c) => c.MIN <= c.MAX, { message: 'must not exceed MAX', path: ['MIN'] });
    expect(problemsOf(() => loadConfig(schema, { env: { MIN: '5', MAX: '1' } }))).toEqual(['MIN: must not exceed MAX']);
  });
});

describe('field builders', () => {
  const one = <T extends z.ZodTypeAny>(field: T, value: string | undefined) =>
    loadConfig(z.object({ F: field }), { env: value === undefined ? {} : { F: value } }).F as z.infer<T>;

  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['250', 250],
  ])('duration %s → %d ms', (text, ms) => {
    expect(one(duration(), text)).toBe(ms);
  });

  it.each(['1.5s', '-1s', '5 m', '10x', 'h', ''])('duration refuses %j', (text) => {
    expect(problemsOf(() => one(duration(), text))[0]).toMatch(/^F: must be a duration/);
  });

  it('duration default accepts a string or ms and refuses a bad default when built', () => {
    expect(one(duration('1m'), undefined)).toBe(60_000);
    expect(one(duration(1500), undefined)).toBe(1500);
    expect(() => duration('soon')).toThrow(TypeError);
  });

  it('base64Key decodes exactly N bytes and names the expected length, not the value', () => {
    expect(Array.from(one(base64Key(4), Buffer.from([1, 2, 3, 4]).toString('base64')))).toEqual([1, 2, 3, 4]);
    const short = Buffer.alloc(16, 1).toString('base64');
    expect(problemsOf(() => one(base64Key(32), short))).toEqual(['F: must decode to exactly 32 bytes, got 16']);
    const long = Buffer.alloc(33, 1).toString('base64');
    expect(problemsOf(() => one(base64Key(32), long))).toEqual(['F: must decode to exactly 32 bytes, got 33']);
    expect(problemsOf(() => one(base64Key(32), 'abc$'))).toEqual([
      'F: must be standard base64 encoding exactly 32 bytes',
    ]);
  });

  it('port coerces decimal strings only', () => {
    expect(one(port(), '443')).toBe(443);
    expect(one(port(8080), undefined)).toBe(8080);
    for (const bad of ['0', '65536', '0x50', '1e3', ' 80', '80.5']) {
      expect(problemsOf(() => one(port(), bad))).toEqual(['F: must be a whole number between 1 and 65535']);
    }
  });

  it('metrics listener: loopback by default, 0 turns it off, a service default, nothing out of range', () => {
    const schema = z.object({ ...metricsFields, METRICS_PORT: metricsPort(9104) });
    expect(loadConfig(schema, { env: {} })).toEqual({ METRICS_HOST: '127.0.0.1', METRICS_PORT: 9104 });
    expect(loadConfig(schema, { env: { METRICS_PORT: '0', METRICS_HOST: '0.0.0.0' } })).toEqual({
      METRICS_HOST: '0.0.0.0',
      METRICS_PORT: 0,
    });
    for (const bad of ['-1', '65536', 'off', '']) {
      expect(problemsOf(() => one(metricsPort(9104), bad))).toEqual(['F: must be a whole number between 0 and 65535']);
    }
    // The bare fragment has no default: a service that forgets to choose one fails at boot.
    expect(problemsOf(() => loadConfig(z.object({ ...metricsFields }), { env: {} }))).toEqual([
      'METRICS_PORT: required',
    ]);
  });

  it('int honours bounds', () => {
    expect(one(int({ min: -5, max: 5 }), '-5')).toBe(-5);
    expect(problemsOf(() => one(int({ min: 1 }), '0'))).toEqual(['F: must be a whole number >= 1']);
  });

  it('bool accepts true/false/1/0 and nothing else', () => {
    expect(one(bool(), '1')).toBe(true);
    expect(one(bool(), 'False')).toBe(false);
    expect(one(bool(true), undefined)).toBe(true);
    expect(problemsOf(() => one(bool(false), 'no'))).toHaveLength(1);
  });

  it('serviceKeys maps services to their 32-byte public keys, and refuses anything else', () => {
    const k1 = Buffer.alloc(32, 1).toString('base64');
    const k2 = Buffer.alloc(32, 2).toString('base64');
    const keys = one(serviceKeys(), `flow-engine:${k1}, retention:${k2},flow-engine:${k2}`);
    expect([...keys.keys()]).toEqual(['flow-engine', 'retention']);
    expect(keys.get('flow-engine')?.map((k) => k[0])).toEqual([1, 2]);
    expect(one(serviceKeys(), '').size).toBe(0);
    for (const bad of [k1, `flow-engine:${Buffer.alloc(31).toString('base64')}`, 'flow-engine:not base64', `Bad:${k1}`])
      expect(problemsOf(() => one(serviceKeys(), bad))).toHaveLength(1);
  });

  it('csv splits, trims and refuses empty entries', () => {
    expect(one(csv(), 'a, b ,c')).toEqual(['a', 'b', 'c']);
    expect(problemsOf(() => one(csv(), 'a,,b'))).toEqual(['F: must be a comma-separated list without empty entries']);
    expect(problemsOf(() => one(csv(), 'a,'))).toHaveLength(1);
  });

  it('url restricts protocols', () => {
    expect(one(url({ protocols: ['https'] }), 'https://x.example/a')).toBe('https://x.example/a');
    expect(problemsOf(() => one(url({ protocols: ['https'] }), 'http://x.example'))).toEqual([
      'F: must be a URL with protocol https',
    ]);
    expect(problemsOf(() => one(url(), 'not a url'))).toEqual(['F: must be a URL']);
  });

  it('enumOf lists the allowed values', () => {
    expect(one(enumOf(['a', 'b']), 'b')).toBe('b');
    expect(problemsOf(() => one(enumOf(['a', 'b']), 'c'))).toEqual(['F: must be one of a, b']);
  });

  it('str refuses empty strings', () => {
    expect(problemsOf(() => one(str(), ''))).toEqual(['F: must not be empty']);
  });

  it('filePath requires an existing readable regular file', () => {
    const file = writeTmp('ca.pem', 'pem');
    expect(one(filePath(), file)).toBe(file);
    expect(problemsOf(() => one(filePath(), join(dir, 'nope.pem')))).toEqual([
      'F: file does not exist or is not readable (ENOENT)',
    ]);
    expect(problemsOf(() => one(filePath(), dir))).toEqual(['F: must name a regular file, not a directory']);
    // root reads everything, so an unreadable file can only be tested as a normal user
    if (process.getuid?.() !== 0) {
      const locked = writeTmp('locked.pem', 'x');
      chmodSync(locked, 0o000);
      expect(problemsOf(() => one(filePath(), locked))).toEqual(['F: file does not exist or is not readable (EACCES)']);
    }
  });
});

describe('parseConfigOrExit', () => {
  it('prints every problem under the service name and exits 78', () => {
    let written = '';
    let exitCode: number | undefined;
    const exit = ((code: number) => {
      exitCode = code;
      throw new Error('exited');
    }) as (code: number) => never;
    expect(() =>
      parseConfigOrExit(z.object({ ...httpFields, DB_PASSWORD: secret() }), {
        service: 'auth',
        env: { PORT: CANARY },
        stderr: { write: (t: string) => (written += t) },
        exit,
      }),
    ).toThrow('exited');
    expect(exitCode).toBe(78);
    expect(written).toBe(
      'auth: invalid configuration:\n  - PORT: must be a whole number between 1 and 65535\n  - DB_PASSWORD: required\n',
    );
  });

  it('returns the config when valid', () => {
    expect(parseConfigOrExit(z.object({ ...httpFields }), { env: { PORT: '1' } })).toEqual({
      HOST: '127.0.0.1',
      PORT: 1,
    });
  });
});

describe('secretValues', () => {
  it('lists every secret field’s value in the forms it may be logged in, and nothing else', () => {
    const where = mkdtempSync(join(tmpdir(), 'flow8-secrets-'));
    writeFileSync(join(where, 'token'), 'from-a-file-token\n');
    const key = Buffer.alloc(32, 7).toString('base64');
    const schema = z.object({
      DB_URL: secret(),
      TOKEN: secret().optional(),
      KEYS: secret(),
      KEY: base64Key(32),
      NAME: str(),
    });
    const values = secretValues(schema, {
      env: {
        DB_URL: 'postgres://u:p%40ss-word@h/db',
        TOKEN_FILE: join(where, 'token'),
        KEYS: 'first-key-aaa, second-key-bbb',
        KEY: key,
        NAME: 'not-a-secret-value',
      },
    });
    expect(values).toEqual(
      expect.arrayContaining([
        'postgres://u:p%40ss-word@h/db',
        'p%40ss-word',
        'p@ss-word',
        'from-a-file-token',
        'first-key-aaa',
        'second-key-bbb',
        key,
        Buffer.from(key, 'base64').toString('hex'),
      ]),
    );
    expect(values).not.toContain('not-a-secret-value');
    rmSync(where, { recursive: true, force: true });
  });
});
