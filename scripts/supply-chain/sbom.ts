// CycloneDX 1.6 SBOMs of the workspace and of each service image, from pnpm-lock.yaml (what is
// pinned) and the installed packages' package.json (what each declares as its licence).
//
//   pnpm sbom                       the workspace and every service image, into dist/sbom/
//   pnpm sbom --target auth         one of them (workspace | <service>)
//   pnpm sbom --target auth --out -   to stdout
//
// The workspace SBOM lists every package installed for every workspace project; the ones only
// development needs carry scope "excluded" and the property cdx:npm:package:development. A service
// image SBOM lists what deploy/Dockerfile installs for that service (its production dependencies
// and the workspace packages they pull in: `pnpm install --prod --filter-prod @flow8/<svc>...`),
// plus the base image (node:<pinned version>-slim) and pnpm. The Debian packages inside the base
// image are not listed: they are the base image publisher's to describe.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as CDX from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import spdxParse from 'spdx-expression-parse';
import { parse as parseYaml } from 'yaml';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SERVICES = readdirSync(join(ROOT, 'services')).filter((d) =>
  existsSync(join(ROOT, 'services', d, 'package.json')),
);
export type Target = 'workspace' | (typeof SERVICES)[number];

/** The versions pinned in scripts/lib/runtime.sh (the one place they are written). */
export function pinnedRuntime(): { node: string; pnpm: string } {
  const sh = readFileSync(join(ROOT, 'scripts/lib/runtime.sh'), 'utf8');
  const get = (name: string) => {
    const m = new RegExp(`^${name}=(\\S+)$`, 'm').exec(sh);
    if (!m) throw new Error(`${name} not found in scripts/lib/runtime.sh`);
    return m[1]!;
  };
  return { node: get('FLOW8_NODE_VERSION'), pnpm: get('FLOW8_PNPM_VERSION') };
}

interface LockDep {
  specifier: string;
  version: string;
}
interface Importer {
  dependencies?: Record<string, LockDep>;
  optionalDependencies?: Record<string, LockDep>;
  devDependencies?: Record<string, LockDep>;
}
interface Snapshot {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}
interface Lockfile {
  lockfileVersion: string;
  importers: Record<string, Importer>;
  packages: Record<string, { resolution: { integrity?: string; tarball?: string } }>;
  snapshots: Record<string, Snapshot>;
}

export function readLockfile(): Lockfile {
  const lock = parseYaml(readFileSync(join(ROOT, 'pnpm-lock.yaml'), 'utf8'), { maxAliasCount: -1 }) as Lockfile;
  if (!String(lock.lockfileVersion).startsWith('9.')) throw new Error(`unsupported lockfile ${lock.lockfileVersion}`);
  return lock;
}

/** `name@1.2.3(peer@4.5.6)` → `name@1.2.3` (a package, whatever peers it was resolved with). */
export const packageKey = (snapshotKey: string) => snapshotKey.replace(/\(.*$/, '');
const splitKey = (key: string) => {
  const at = key.lastIndexOf('@');
  return { name: key.slice(0, at), version: key.slice(at + 1) };
};

export interface Resolved {
  /** name@version → 'prod' (needed at run time) or 'dev' (only for development). */
  packages: Map<string, 'prod' | 'dev'>;
  /** name@version → the name@versions it depends on (installed ones). */
  edges: Map<string, Set<string>>;
  /** Workspace projects included (lockfile importer paths), with their direct dependencies. */
  projects: Map<string, Set<string>>;
}

/**
 * Walks the lockfile from the target's projects. Optional dependencies that are not installed
 * here (other platforms' builds) are left out, like the install leaves them out.
 */
export function resolveTarget(lock: Lockfile, target: Target, installed: (key: string) => boolean): Resolved {
  const packages = new Map<string, 'prod' | 'dev'>();
  const edges = new Map<string, Set<string>>();
  const projects = new Map<string, Set<string>>();

  const visitSnapshot = (snapKey: string, scope: 'prod' | 'dev', optional: boolean): string | null => {
    const key = packageKey(snapKey);
    if (!installed(key)) {
      if (optional) return null;
      throw new Error(`${key} is in pnpm-lock.yaml but not installed (run scripts/setup.sh)`);
    }
    const seen = packages.get(key);
    if (seen === 'prod' || seen === scope) return key;
    packages.set(key, scope);
    const snap = lock.snapshots[snapKey];
    if (!snap) throw new Error(`pnpm-lock.yaml has no snapshot ${snapKey}`);
    const out = edges.get(key) ?? new Set<string>();
    edges.set(key, out);
    for (const [deps, opt] of [
      [snap.dependencies, optional],
      [snap.optionalDependencies, true],
    ] as const) {
      for (const [name, version] of Object.entries(deps ?? {})) {
        const child = visitSnapshot(`${name}@${version}`, scope, opt);
        if (child) out.add(child);
      }
    }
    return key;
  };

  const visitedProjects = new Set<string>();
  const visitProject = (path: string, scope: 'prod' | 'dev', withDev: boolean) => {
    const importer = lock.importers[path];
    if (!importer) throw new Error(`pnpm-lock.yaml has no importer ${path}`);
    if (visitedProjects.has(`${path}|${scope}|${withDev}`)) return;
    visitedProjects.add(`${path}|${scope}|${withDev}`);
    const direct = projects.get(path) ?? new Set<string>();
    projects.set(path, direct);
    const groups: [Record<string, LockDep> | undefined, 'prod' | 'dev', boolean][] = [
      [importer.dependencies, scope, false],
      [importer.optionalDependencies, scope, true],
    ];
    if (withDev) groups.push([importer.devDependencies, 'dev', false]);
    for (const [deps, s, optional] of groups) {
      for (const [name, dep] of Object.entries(deps ?? {})) {
        if (dep.version.startsWith('link:')) {
          const linked = join(path, dep.version.slice('link:'.length)).replace(/\\/g, '/');
          direct.add(`workspace:${linked}`);
          visitProject(linked, s, false);
          continue;
        }
        const key = visitSnapshot(`${name}@${dep.version}`, s, optional);
        if (key) direct.add(key);
      }
    }
  };

  if (target === 'workspace') {
    for (const path of Object.keys(lock.importers)) visitProject(path, 'prod', true);
  } else {
    if (!SERVICES.includes(target)) throw new Error(`unknown target ${target} (workspace | ${SERVICES.join(' | ')})`);
    visitProject(`services/${target}`, 'prod', false);
  }
  return { packages, edges, projects };
}

/** Where pnpm put name@version under node_modules/.pnpm, or null when it is not installed. */
export function installedPackages(root = ROOT): (key: string) => string | null {
  const store = join(root, 'node_modules/.pnpm');
  const dirs = existsSync(store) ? readdirSync(store) : [];
  const cache = new Map<string, string | null>();
  return (key) => {
    if (cache.has(key)) return cache.get(key)!;
    const { name } = splitKey(key);
    const prefix = key.replace('/', '+');
    let found: string | null = null;
    for (const d of dirs) {
      if (d !== prefix && !d.startsWith(`${prefix}_`)) continue;
      const p = join(store, d, 'node_modules', name);
      if (existsSync(join(p, 'package.json'))) {
        found = p;
        break;
      }
    }
    cache.set(key, found);
    return found;
  };
}

interface PackageJson {
  name?: string;
  version?: string;
  description?: string;
  license?: unknown;
  licenses?: unknown;
}

/** The licence a package declares: an SPDX id or expression, or a name; null when none. */
export function declaredLicense(pkg: PackageJson): string | null {
  const fromEntry = (l: unknown) =>
    typeof l === 'string' ? l : l && typeof l === 'object' && 'type' in l ? String(l.type) : null;
  if (pkg.license !== undefined) return fromEntry(pkg.license);
  if (Array.isArray(pkg.licenses)) {
    const all = pkg.licenses.map(fromEntry).filter((l): l is string => !!l);
    if (all.length === 1) return all[0]!;
    if (all.length > 1) return `(${all.join(' OR ')})`;
  }
  return null;
}

const licenseFactory = new CDX.Contrib.License.Factories.LicenseFactory((e: string) => void spdxParse(e));

function npmPurl(name: string, version: string): PackageURL {
  const scoped = name.startsWith('@');
  const [ns, n] = scoped ? [name.slice(0, name.indexOf('/')), name.slice(name.indexOf('/') + 1)] : [undefined, name];
  return new PackageURL('npm', ns, n, version, undefined, undefined);
}

function integrityHex(integrity: string | undefined): [CDX.Enums.HashAlgorithm, string][] {
  const m = /^sha512-(.+)$/.exec(integrity ?? '');
  return m ? [[CDX.Enums.HashAlgorithm['SHA-512'], Buffer.from(m[1]!, 'base64').toString('hex')]] : [];
}

function licenses(value: string | null): CDX.Models.LicenseRepository {
  return new CDX.Models.LicenseRepository(value ? [licenseFactory.makeFromString(value)] : []);
}

export interface LicensePolicy {
  allow: string[];
  concluded: Record<string, { license: string; reason: string }>;
}
export function licensePolicy(): LicensePolicy {
  return JSON.parse(readFileSync(join(ROOT, 'scripts/supply-chain/license-policy.json'), 'utf8')) as LicensePolicy;
}

/** The declared licence, or the one concluded in license-policy.json for a package that declares none. */
function componentLicenses(key: string, pkg: PackageJson, policy: LicensePolicy): CDX.Models.LicenseRepository {
  const declared = declaredLicense(pkg);
  if (declared) return licenses(declared);
  const concluded = policy.concluded[key];
  if (!concluded) return licenses(null);
  return new CDX.Models.LicenseRepository([
    new CDX.Models.SpdxLicense(concluded.license, { acknowledgement: CDX.Enums.LicenseAcknowledgement.Concluded }),
  ]);
}

/** The SBOM of a target as CycloneDX 1.6 JSON (a string, lists sorted). */
export function buildSbom(target: Target, root = ROOT): string {
  const lock = readLockfile();
  const where = installedPackages(root);
  const resolved = resolveTarget(lock, target, (k) => where(k) !== null);
  const runtime = pinnedRuntime();
  const policy = licensePolicy();
  const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
  const readPkg = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;

  const appName = target === 'workspace' ? 'flow8' : `@flow8/${target}`;
  const appDir = target === 'workspace' ? root : join(root, 'services', target);
  const appPkg = readPkg(appDir);
  const app = new CDX.Models.Component(
    target === 'workspace' ? CDX.Enums.ComponentType.Application : CDX.Enums.ComponentType.Container,
    appName,
    {
      bomRef: `flow8:${target}`,
      version: appPkg.version ?? '0.0.0',
      description: appPkg.description ?? rootPkg.description,
    },
  );

  const bom = new CDX.Models.Bom();
  bom.metadata.component = app;
  bom.metadata.tools.components.add(
    new CDX.Models.Component(CDX.Enums.ComponentType.Application, 'flow8 scripts/supply-chain/sbom.ts', {
      bomRef: 'flow8:sbom-tool',
      version: '1',
    }),
  );

  const byKey = new Map<string, CDX.Models.Component>();
  for (const [key, scope] of [...resolved.packages].sort(([a], [b]) => a.localeCompare(b))) {
    const { name, version } = splitKey(key);
    const pkg = readPkg(where(key)!);
    const purl = npmPurl(name, version);
    const props = [new CDX.Models.Property('cdx:npm:package:path', where(key)!.slice(root.length).replace(/^\//, ''))];
    if (scope === 'dev') props.push(new CDX.Models.Property('cdx:npm:package:development', 'true'));
    const scoped = name.startsWith('@');
    const c = new CDX.Models.Component(
      CDX.Enums.ComponentType.Library,
      scoped ? name.slice(name.indexOf('/') + 1) : name,
      {
        bomRef: purl.toString(),
        group: scoped ? name.slice(0, name.indexOf('/')) : undefined,
        version,
        purl: purl.toString(),
        scope: scope === 'prod' ? CDX.Enums.ComponentScope.Required : CDX.Enums.ComponentScope.Excluded,
        licenses: componentLicenses(key, pkg, policy),
        hashes: new CDX.Models.HashDictionary(integrityHex(lock.packages[key]?.resolution.integrity)),
        properties: new CDX.Models.PropertyRepository(props),
      },
    );
    byKey.set(key, c);
    bom.components.add(c);
  }

  // Workspace packages: first-party, part of the application, no licence of their own to check.
  const projectRef = new Map<string, CDX.Models.Component>();
  for (const path of [...resolved.projects.keys()].sort()) {
    if (path === '.') continue;
    const pkg = readPkg(join(root, path));
    const c = new CDX.Models.Component(CDX.Enums.ComponentType.Library, pkg.name!.replace(/^@flow8\//, ''), {
      bomRef: `flow8:${path}`,
      group: '@flow8',
      version: pkg.version ?? '0.0.0',
      description: pkg.description,
      scope: CDX.Enums.ComponentScope.Required,
      properties: new CDX.Models.PropertyRepository([
        new CDX.Models.Property('cdx:npm:package:private', 'true'),
        new CDX.Models.Property('cdx:npm:package:path', path),
      ]),
    });
    projectRef.set(path, c);
    if (target !== 'workspace' && path === `services/${target}`) continue;
    bom.components.add(c);
  }

  // What runs it all: the Node.js runtime (the image's base) and pnpm (which starts the service).
  const nodeRuntime = new CDX.Models.Component(
    target === 'workspace' ? CDX.Enums.ComponentType.Platform : CDX.Enums.ComponentType.Container,
    'node',
    {
      bomRef: 'flow8:runtime:node',
      version: target === 'workspace' ? runtime.node : `${runtime.node}-slim`,
      purl: (target === 'workspace'
        ? new PackageURL('generic', undefined, 'node', runtime.node, undefined, undefined)
        : new PackageURL('docker', 'library', 'node', `${runtime.node}-slim`, undefined, undefined)
      ).toString(),
      description:
        'Node.js runtime' + (target === 'workspace' ? '' : ' (base image; its Debian packages not listed here)'),
      scope: CDX.Enums.ComponentScope.Required,
      licenses: licenses('MIT'),
    },
  );
  const pnpm = new CDX.Models.Component(CDX.Enums.ComponentType.Application, 'pnpm', {
    bomRef: npmPurl('pnpm', runtime.pnpm).toString(),
    version: runtime.pnpm,
    purl: npmPurl('pnpm', runtime.pnpm).toString(),
    scope: CDX.Enums.ComponentScope.Required,
    licenses: licenses('MIT'),
  });
  bom.components.add(nodeRuntime);
  bom.components.add(pnpm);

  // The dependency graph.
  for (const [key, deps] of resolved.edges) {
    for (const d of deps) byKey.get(key)!.dependencies.add(byKey.get(d)!.bomRef);
  }
  for (const [path, direct] of resolved.projects) {
    const c = path === '.' || (target !== 'workspace' && path === `services/${target}`) ? app : projectRef.get(path)!;
    for (const d of direct) {
      const dep = d.startsWith('workspace:') ? projectRef.get(d.slice('workspace:'.length)) : byKey.get(d);
      if (dep) c.dependencies.add(dep.bomRef);
    }
  }
  if (target === 'workspace') {
    for (const c of projectRef.values()) app.dependencies.add(c.bomRef);
  }
  app.dependencies.add(nodeRuntime.bomRef);
  app.dependencies.add(pnpm.bomRef);

  const serializer = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot6));
  return serializer.serialize(bom, { sortLists: true, space: 2 });
}

/** Validates CycloneDX 1.6 JSON against its schema; the error, or null when valid. */
export async function validateSbom(json: string): Promise<unknown> {
  return new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot6).validate(json);
}

/** The list of packages pnpm itself reports for a target, with licences (a second opinion). */
export function pnpmLicenses(target: Target, root = ROOT): { name: string; version: string; license: string }[] {
  const args = ['licenses', 'list', '--json'];
  if (target !== 'workspace') args.push('--prod', '--filter-prod', `@flow8/${target}...`);
  const out = execFileSync('pnpm', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  const grouped = JSON.parse(out) as Record<string, { name: string; versions: string[] }[]>;
  return Object.entries(grouped).flatMap(([license, pkgs]) =>
    pkgs.flatMap((p) => p.versions.map((version) => ({ name: p.name, version, license }))),
  );
}

async function main(argv: string[]) {
  let targets: Target[] = ['workspace', ...SERVICES];
  let out: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--target') targets = [argv[++i] as Target];
    else if (a === '--out') out = argv[++i] ?? null;
    else if (a === '-h' || a === '--help') {
      console.log('usage: pnpm sbom [--target workspace|<service>] [--out <file>|-]');
      return;
    } else throw new Error(`unknown argument ${a}`);
  }
  if (out && targets.length !== 1) throw new Error('--out needs one --target');
  for (const t of targets) {
    const json = buildSbom(t);
    const problem = await validateSbom(json);
    if (problem) throw new Error(`the ${t} SBOM is not valid CycloneDX 1.6: ${JSON.stringify(problem)}`);
    if (out === '-') {
      process.stdout.write(json + '\n');
      continue;
    }
    const file =
      out ?? join(ROOT, 'dist/sbom', `${t === 'workspace' ? 'flow8-workspace' : `flow8-${t}-image`}.cdx.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, json + '\n');
    const n = (JSON.parse(json) as { components: unknown[] }).components.length;
    console.error(`sbom: ${t}: ${n} components → ${file.startsWith(ROOT) ? file.slice(ROOT.length) : file}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(`sbom: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
