// The real infrastructure the integration tests talk to. The stack is started by
// `scripts/stack/up.sh` (which `scripts/test.sh` runs first) and described by the variables
// it writes to `.flow8/stack.env`; variables already in the environment win, so tests can be
// pointed at any other stack.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { issueTestCertificate } from './certs';

export interface StackEnv {
  stateDir: string;
  caFile: string;
  certsDir: string;
  kafkaBrokers: string[];
  /** The KRaft controller listener (`host:port`), TLS with client certificates like the brokers; '' if unknown. */
  kafkaController: string;
  pgAdminUrl: string;
  redisUrl: string;
  /** e.g. databaseUrl('AUDIT') → { app, relay, owner } */
  databaseUrls(db: 'AUTH' | 'VAULT' | 'FLOW' | 'AUDIT' | 'RETENTION'): { app: string; relay: string; owner: string };
  raw: Record<string, string>;
}

export function repoRoot(): string {
  let dir = process.cwd();
  for (let i = 0; i < 6; i += 1) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    dir = resolve(dir, '..');
  }
  return process.cwd();
}

function parseEnvFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^(?:export\s+)?([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1]) out[m[1]] = (m[2] ?? '').replace(/^['"]|['"]$/g, '');
  }
  return out;
}

let cached: StackEnv | null = null;

export function stackEnv(): StackEnv {
  if (cached) return cached;
  const stateDir = process.env.FLOW8_STATE_DIR ?? join(repoRoot(), '.flow8');
  const file = join(stateDir, 'stack.env');
  const fromFile = existsSync(file) ? parseEnvFile(file) : {};
  const raw: Record<string, string> = { ...fromFile };
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k in fromFile) raw[k] = v;
  const need = (k: string): string => {
    const v = process.env[k] ?? raw[k];
    if (!v) {
      throw new Error(
        `integration tests need the local stack: ${k} is not set and ${file} does not define it. ` +
          'Run `bash scripts/stack/up.sh` (or `bash scripts/test.sh`, which does it for you).',
      );
    }
    return v;
  };
  cached = {
    stateDir,
    caFile: need('FLOW8_CA_FILE'),
    certsDir: need('FLOW8_CERTS_DIR'),
    kafkaBrokers: need('KAFKA_BROKERS').split(','),
    // Optional: a stack.env written before the controller listener was described lacks it.
    kafkaController: process.env.FLOW8_KAFKA_CONTROLLER ?? raw.FLOW8_KAFKA_CONTROLLER ?? '',
    pgAdminUrl: need('FLOW8_PG_ADMIN_URL'),
    redisUrl: need('REDIS_URL'),
    databaseUrls: (db) => ({
      app: need(`${db}_DATABASE_URL`),
      relay: need(`${db}_RELAY_DATABASE_URL`),
      owner: need(`${db}_MIGRATION_DATABASE_URL`),
    }),
    raw,
  };
  return cached;
}

/**
 * The certificate and key of `name`: the stack's own when it issues one (what runs), else one
 * signed at test time by the stack's CA (issueTestCertificate) — e.g. `flow-engine`, a caller
 * that does not run in the local stack yet.
 */
export function certPair(name: string): { cert: string; key: string; ca: string; certFile: string; keyFile: string } {
  const env = stackEnv();
  let certFile = join(env.certsDir, `${name}.pem`);
  let keyFile = join(env.certsDir, `${name}-key.pem`);
  if (!existsSync(certFile) || !existsSync(keyFile)) ({ certFile, keyFile } = issueTestCertificate(env.certsDir, name));
  return {
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
    ca: readFileSync(env.caFile, 'utf8'),
    certFile,
    keyFile,
  };
}
