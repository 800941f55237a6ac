// A service started by scripts/start.sh must hold its own runtime credentials and nothing else.
// The attack: the shell that runs start.sh has every URL of the stack in its environment (it
// sourced stack.env: each database's owner URL, the PostgreSQL superuser URL, the other services'
// URLs). A process started the way start.sh starts a service is inspected from outside, through
// /proc/<pid>/environ, as anyone able to read a service's memory would see it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

function repoRoot(): string {
  let dir = process.cwd();
  while (!existsSync(join(dir, 'pnpm-workspace.yaml')) && dir !== '/') dir = resolve(dir, '..');
  return dir;
}
const root = repoRoot();

const STACK_ENV = {
  FLOW8_PG_ADMIN_URL: 'postgres://flow8_admin:superuser-canary@localhost:1/postgres?sslmode=verify-full',
  AUTH_MIGRATION_DATABASE_URL: 'postgres://auth_owner:auth-owner-canary@localhost:1/auth?sslmode=verify-full',
  AUTH_DATABASE_URL: 'postgres://auth_app:from-the-callers-shell@localhost:1/auth?sslmode=verify-full',
  VAULT_DATABASE_URL: 'postgres://vault_app:vault-app-canary@localhost:1/vault?sslmode=verify-full',
  VAULT_MIGRATION_DATABASE_URL: 'postgres://vault_owner:vault-owner-canary@localhost:1/vault?sslmode=verify-full',
  AUDIT_MIGRATION_DATABASE_URL: 'postgres://audit_owner:audit-owner-canary@localhost:1/audit?sslmode=verify-full',
  REDIS_URL: 'rediss://:redis-canary@localhost:1',
};

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('scripts/lib/launch.sh', () => {
  let dir: string;
  let pid: number | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'flow8-launch-'));
  });
  afterEach(() => {
    if (pid) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("a launched service sees its own runtime URLs and settings, never an owner, superuser or other service's URL", async () => {
    const pidfile = join(dir, 'auth.pid');
    const r = spawnSync(
      'bash',
      [
        '-c',
        `source scripts/lib/common.sh && source scripts/lib/launch.sh && launch_service "$D" AUTH "$D/auth.pid" "$D/auth.log" \
          AUTH_DATABASE_URL=own-runtime-url AUTH_RELAY_DATABASE_URL=own-relay-url -- sleep 60`,
      ],
      {
        cwd: root,
        env: { ...process.env, ...STACK_ENV, D: dir, AUTH_SESSION_TTL: '2h', OTEL_SERVICE_NAME: 'auth-test' },
        encoding: 'utf8',
      },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    pid = await waitFor('the pid file', () => {
      const text = existsSync(pidfile) ? readFileSync(pidfile, 'utf8').trim() : '';
      return /^\d+$/.test(text) ? Number(text) : undefined;
    });
    // The pid is the service's own process once it has exec'd.
    const environ = await waitFor('the service process', () => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        return cmd.startsWith('sleep\0') ? readFileSync(`/proc/${pid}/environ`, 'utf8') : undefined;
      } catch {
        return undefined;
      }
    });
    const env = Object.fromEntries(
      environ
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    expect(env.AUTH_DATABASE_URL).toBe('own-runtime-url');
    expect(env.AUTH_RELAY_DATABASE_URL).toBe('own-relay-url');
    // The caller's settings for this service and telemetry still reach it.
    expect(env.AUTH_SESSION_TTL).toBe('2h');
    expect(env.OTEL_SERVICE_NAME).toBe('auth-test');
    expect(env.PATH).toBe(process.env.PATH);
    for (const name of Object.keys(STACK_ENV).filter((n) => n !== 'AUTH_DATABASE_URL')) {
      expect(env).not.toHaveProperty(name);
    }
    for (const canary of ['superuser-canary', 'owner-canary', 'vault-app-canary', 'redis-canary']) {
      expect(environ).not.toContain(canary);
    }
  });

  it('start.sh names for each service only its own runtime and relay database URLs', () => {
    const script = readFileSync(join(root, 'scripts/start.sh'), 'utf8').replace(/\\\n\s*/g, ' ');
    const lines = script.split('\n').filter((l) => /^start_service \S+ [A-Z]+ /.test(l));
    expect(lines.map((l) => l.split(' ')[1])).toEqual([
      'audit-ingest',
      'auth',
      'credential-vault',
      'flow-engine',
      'gateway',
    ]);
    for (const line of lines) {
      const prefix = line.split(' ')[2]!;
      const urls = [...line.matchAll(/\$\{?([A-Z0-9_]*(?:DATABASE_URL|ADMIN_URL))/g)].map((m) => m[1]).sort();
      expect({ service: prefix, urls }).toEqual({
        service: prefix,
        urls: prefix === 'GATEWAY' ? [] : [`${prefix}_DATABASE_URL`, `${prefix}_RELAY_DATABASE_URL`],
      });
    }
  });
});
