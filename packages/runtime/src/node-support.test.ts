import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SUPPORTED_NODE, unsupportedNodeReason } from './node-support';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const read = (path: string) => readFileSync(`${root}/${path}`, 'utf8');
const shellVar = (file: string, name: string) => {
  const m = new RegExp(`^${name}=(\\S+)$`, 'm').exec(read(file));
  if (!m) throw new Error(`${name} not found in ${file}`);
  return m[1]!;
};
const pinnedNode = shellVar('scripts/lib/runtime.sh', 'FLOW8_NODE_VERSION');
const pinnedPnpm = shellVar('scripts/lib/runtime.sh', 'FLOW8_PNPM_VERSION');

describe('unsupportedNodeReason', () => {
  it.each(['24.11.0', '24.22.3', 'v24.30.1'])('accepts %s', (v) => {
    expect(unsupportedNodeReason(v)).toBeNull();
  });

  it.each(['20.20.2', '22.21.0', '24.10.0', '25.0.0', '26.12.1', 'garbage'])('refuses %s, saying what to do', (v) => {
    const reason = unsupportedNodeReason(v);
    expect(reason).toContain(`Node.js ${v} is not supported`);
    expect(reason).toContain('Node.js 24 (>= 24.11.0, < 25)');
    expect(reason).toContain('./scripts/setup.sh');
  });
});

describe('one Node.js line everywhere', () => {
  it('root package.json engines, the pinned runtime and @types/node agree with SUPPORTED_NODE', () => {
    const pkg = JSON.parse(read('package.json')) as {
      engines: { node: string };
      packageManager: string;
      devDependencies: Record<string, string>;
    };
    expect(pkg.engines.node).toBe(`>=${SUPPORTED_NODE.minimum} <${SUPPORTED_NODE.major + 1}`);
    expect(unsupportedNodeReason(pinnedNode)).toBeNull();
    expect(pkg.devDependencies['@types/node']).toMatch(new RegExp(`^\\^${SUPPORTED_NODE.major}\\.`));
    expect(pkg.packageManager).toBe(`pnpm@${pinnedPnpm}`);
  });

  it('the image is built on the pinned Node.js and pnpm', () => {
    const dockerfile = read('deploy/Dockerfile');
    expect(dockerfile).toContain(`ARG NODE_VERSION=${pinnedNode}\n`);
    expect(dockerfile).toMatch(/^FROM node:\$\{NODE_VERSION\}-/m);
    expect(dockerfile).toContain(`ARG PNPM_VERSION=${pinnedPnpm}\n`);
    const pnpmIntegrity = /^FLOW8_PNPM_INTEGRITY='(\S+)'$/m.exec(read('scripts/lib/runtime.sh'))![1];
    expect(dockerfile).toContain(`ARG PNPM_INTEGRITY=${pnpmIntegrity}\n`);
  });

  it('these tests run on a supported Node.js, the pinned binary when the scripts installed one', () => {
    expect(unsupportedNodeReason(process.versions.node)).toBeNull();
    const bin = process.env.FLOW8_RUNTIME_BIN;
    if (bin && existsSync(`${bin}/node`)) {
      expect(realpathSync(process.execPath)).toBe(realpathSync(`${bin}/node`));
      expect(process.versions.node).toBe(pinnedNode);
    }
  });
});

describe('a service on an unsupported Node.js', () => {
  // The real entry point of a service, with no configuration at all: on a supported runtime it
  // gets as far as the configuration check; on an unsupported one it must stop before that.
  const authDir = `${root}/services/auth`;
  const start = (node: string, preload: string[]) =>
    spawnSync(node, [...preload, '--import', 'tsx', 'src/main.ts'], {
      cwd: authDir,
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
      timeout: 60_000,
    });
  const pretend = (version: string) => [
    '--import',
    `data:text/javascript,Object.defineProperty(process.versions,'node',{value:'${version}'})`,
  ];

  it.each(['20.20.2', '25.1.0'])('refuses to start on Node.js %s, before reading any configuration', (version) => {
    const r = start(process.execPath, pretend(version));
    expect(r.status).toBe(78);
    expect(r.stderr).toContain(`auth: refusing to start: Node.js ${version} is not supported`);
    expect(r.stderr).not.toContain('AUTH_DATABASE_URL');
  });

  it('gets past the check on this runtime (and then wants its configuration)', () => {
    const r = start(process.execPath, []);
    expect(r.stderr).not.toContain('refusing to start');
    expect(r.stderr).toContain('AUTH_DATABASE_URL');
  });

  // The machine's own Node.js 20 (Debian's), when there is one: the real thing, not a pretence.
  const machineNode = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => {
    if (!existsSync(p)) return false;
    const v = spawnSync(p, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    return v !== '' && unsupportedNodeReason(v) !== null;
  });
  (machineNode ? it : it.skip)(`refuses to start on the machine's own ${machineNode ?? 'node'}`, () => {
    const r = start(machineNode!, []);
    expect(r.status).toBe(78);
    expect(r.stderr).toMatch(/auth: refusing to start: Node\.js \d+\.\d+\.\d+ is not supported/);
  });
});
