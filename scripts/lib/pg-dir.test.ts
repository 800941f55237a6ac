// A checkout in a directory the `postgres` OS user cannot traverse (a clone under /root, a 0700
// temporary directory) used to make scripts/stack/up.sh die with a bare "mkdir: Permission
// denied": as root, PostgreSQL runs as `postgres` and its directory was always inside the state
// dir. This prepares PostgreSQL's directory exactly as up.sh does, for a state dir inside a
// 0700 directory, and checks that the server's OS user can use what it gets. Runs as root (CI
// does) on a machine with the `postgres` user; elsewhere PostgreSQL runs as the invoking user and
// the problem cannot arise.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

function repoRoot(): string {
  let dir = process.cwd();
  while (!existsSync(join(dir, 'pnpm-workspace.yaml')) && dir !== '/') dir = resolve(dir, '..');
  return dir;
}
const root = repoRoot();

const isRoot = process.getuid?.() === 0;
const hasPostgresUser = spawnSync('id', ['postgres']).status === 0;
const asRootWithPostgres = isRoot && hasPostgresUser ? it : it.skip;

function bash(script: string, env: Record<string, string>) {
  return spawnSync('bash', ['-c', `source scripts/lib/common.sh && ${script}`], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
}

describe('PostgreSQL directory for a state dir postgres cannot reach', () => {
  let closed: string;
  let pgRoot: string;
  beforeEach(() => {
    closed = mkdtempSync(join(tmpdir(), 'flow8-closed-')); // mode 0700, owned by root
    // Stands in for /var/lib (open to others), so the test leaves nothing behind.
    pgRoot = mkdtempSync(join(tmpdir(), 'flow8-pgroot-'));
    execFileSync('chmod', ['755', pgRoot]);
  });
  afterEach(() => {
    rmSync(closed, { recursive: true, force: true });
    rmSync(pgRoot, { recursive: true, force: true });
  });

  asRootWithPostgres('is kept outside the checkout, owned by postgres, usable by it, and found again', () => {
    const state = join(closed, 'checkout', '.flow8');
    mkdirSync(state, { recursive: true });
    // The premise: postgres cannot reach into the state dir.
    expect(spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-x', state]).status).not.toBe(0);

    const env = { FLOW8_STATE_DIR: state, FLOW8_PG_ROOT: join(pgRoot, 'flow8') };
    const r = bash('ensure_state_dir && prepare_pg_dir', env);
    expect(r.stderr).toContain('cannot reach');
    expect(r.status).toBe(0);
    const dir = r.stdout.trim();
    expect(dir.startsWith(join(pgRoot, 'flow8', 'pg-'))).toBe(true);
    // The server's OS user can create its data and socket there (what failed before).
    execFileSync('runuser', ['-u', 'postgres', '--', 'mkdir', '-p', join(dir, 'data')]);
    execFileSync('runuser', ['-u', 'postgres', '--', 'touch', join(dir, 'run', 'probe')]);
    expect(execFileSync('stat', ['-c', '%U %a', dir], { encoding: 'utf8' }).trim()).toBe('postgres 700');
    // down.sh and status.sh find the same directory again, from the record in the state dir.
    expect(readFileSync(join(state, 'pg.dir'), 'utf8').trim()).toBe(dir);
    expect(bash('pg_dir', env).stdout.trim()).toBe(dir);
    expect(bash('prepare_pg_dir', env).stdout.trim()).toBe(dir);
  });

  asRootWithPostgres('a state dir postgres can reach keeps PostgreSQL inside it', () => {
    const open = mkdtempSync(join(tmpdir(), 'flow8-open-'));
    try {
      execFileSync('chmod', ['755', open]);
      const state = join(open, '.flow8');
      const r = bash('ensure_state_dir && prepare_pg_dir', { FLOW8_STATE_DIR: state });
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(join(state, 'pg'));
      expect(existsSync(join(state, 'pg.dir'))).toBe(false);
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });
});
