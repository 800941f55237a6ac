// A fresh install needs the registry and nothing else: every dependency is pinned with its
// integrity in pnpm-lock.yaml, only reviewed packages may run install scripts, and a clean
// install of the whole workspace completes with the network cut off once the packages are in
// pnpm's store (so no install script fetches anything on its own).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLockfile, ROOT } from './sbom';

const lock = readLockfile();
const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  pnpm: { onlyBuiltDependencies: string[]; ignoredBuiltDependencies: string[] };
};

describe('pnpm-lock.yaml', () => {
  it('pins every package to the registry by its sha512 integrity (no git, tarball URL or directory)', () => {
    const offenders = Object.entries(lock.packages)
      .filter(([, p]) => !/^sha512-[A-Za-z0-9+/]+=*$/.test(p.resolution.integrity ?? '') || 'tarball' in p.resolution)
      .map(([k]) => k);
    expect(offenders).toEqual([]);
  });

  it('has every workspace dependency on a registry version or another workspace package', () => {
    const offenders: string[] = [];
    for (const [path, importer] of Object.entries(lock.importers)) {
      for (const group of [importer.dependencies, importer.devDependencies, importer.optionalDependencies]) {
        for (const [name, dep] of Object.entries(group ?? {})) {
          const ok = dep.specifier.startsWith('workspace:')
            ? dep.version.startsWith('link:')
            : /^[\^~]?\d+\.\d+\.\d+/.test(dep.specifier) && /^\d+\.\d+\.\d+/.test(dep.version);
          if (!ok) offenders.push(`${path}: ${name} ${dep.specifier} → ${dep.version}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe('install scripts', () => {
  it('run only for the reviewed packages; every other package with one is named as ignored', () => {
    expect(rootPkg.pnpm.onlyBuiltDependencies.sort()).toEqual(['@swc/core', 'esbuild']);
    const store = join(ROOT, 'node_modules/.pnpm');
    const withScripts = new Set<string>();
    for (const dir of readdirSync(store)) {
      const nm = join(store, dir, 'node_modules');
      if (!existsSync(nm)) continue;
      for (const entry of readdirSync(nm)) {
        const names = entry.startsWith('@') ? readdirSync(join(nm, entry)).map((n) => `${entry}/${n}`) : [entry];
        for (const name of names) {
          const pj = join(nm, name, 'package.json');
          if (!existsSync(pj)) continue;
          const scripts = (JSON.parse(readFileSync(pj, 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
          if (scripts.preinstall || scripts.install || scripts.postinstall) withScripts.add(name);
        }
      }
    }
    const reviewed = [...rootPkg.pnpm.onlyBuiltDependencies, ...rootPkg.pnpm.ignoredBuiltDependencies];
    expect([...withScripts].filter((n) => !reviewed.includes(n)).sort()).toEqual([]);
  });
});

// Cutting the network needs a network namespace: root (as in CI) with unshare(1).
const canCutNetwork = spawnSync('unshare', ['-n', 'true']).status === 0;

(canCutNetwork ? describe : describe.skip)('a fresh install with the network cut off', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'flow8-fresh-install-'));
    // The workspace as a fresh clone has it: manifests, lockfile, sources; no node_modules.
    const skip = ['/node_modules', '/.flow8', '/dist', '/scripts/kafka/target'];
    const filter = (src: string) => !skip.some((s) => src.slice(ROOT.length - 1).includes(s));
    for (const f of [
      'package.json',
      'pnpm-lock.yaml',
      'pnpm-workspace.yaml',
      '.npmrc',
      'tsconfig.json',
      'tsconfig.base.json',
    ]) {
      cpSync(join(ROOT, f), join(dir, f));
    }
    for (const d of ['packages', 'services', 'scripts', 'proto'])
      cpSync(join(ROOT, d), join(dir, d), { recursive: true, filter });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('installs every package from the store and runs the allowed install scripts, reaching nothing else', () => {
    const r = spawnSync(
      'unshare',
      ['-n', 'pnpm', 'install', '--frozen-lockfile', '--offline', '--reporter', 'append-only'],
      { cwd: dir, encoding: 'utf8', timeout: 300_000, env: { ...process.env, CI: 'true' } },
    );
    expect({ status: r.status, out: r.status === 0 ? '' : `${r.stdout}\n${r.stderr}` }).toEqual({ status: 0, out: '' });

    // The native modules load on this runtime: SWC (jest's transform) and esbuild (tsx).
    const swc = execFileSync(
      process.execPath,
      [
        '-e',
        "console.log(require('@swc/core').transformSync('const a: number = 1', { jsc: { parser: { syntax: 'typescript' } } }).code)",
      ],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(swc).toMatch(/(var|const) a = 1/);
    const tsx = execFileSync(join(dir, 'node_modules/.bin/tsx'), ['-e', 'const n: number = 41; console.log(n + 1)'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(tsx.trim()).toBe('42');
  });
});
