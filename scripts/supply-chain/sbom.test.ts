import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkLicenses, expressionAllowed } from './licenses';
import { buildSbom, licensePolicy, pnpmLicenses, ROOT, SERVICES, type Target, validateSbom } from './sbom';

interface Component {
  type: string;
  group?: string;
  name: string;
  version?: string;
  scope?: string;
  purl?: string;
  hashes?: { alg: string; content: string }[];
  licenses?: ({ license: { id?: string; name?: string } } | { expression: string })[];
  properties?: { name: string; value: string }[];
}
const thirdParty = (json: string) =>
  (JSON.parse(json) as { components: Component[] }).components.filter(
    (c) => c.purl?.startsWith('pkg:npm/') && !c.properties?.some((p) => p.name === 'cdx:npm:package:private'),
  );
const id = (c: Component) => `${c.group ? `${c.group}/` : ''}${c.name}@${c.version}`;
const licenseOf = (c: Component) =>
  (c.licenses ?? []).map((l) => ('expression' in l ? l.expression : (l.license.id ?? l.license.name))).join(' ');

const targets: Target[] = ['workspace', ...SERVICES];
const sboms = new Map<Target, string>();
beforeAll(() => {
  for (const t of targets) sboms.set(t, buildSbom(t));
});

describe.each(targets)('the %s SBOM', (target) => {
  it('is valid CycloneDX 1.6', async () => {
    const json = sboms.get(target)!;
    expect(JSON.parse(json)).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6' });
    expect(await validateSbom(json)).toBeNull();
  });

  it('lists every package pnpm installs for it, each with its version, licence and hash', () => {
    const components = thirdParty(sboms.get(target)!).filter((c) => c.name !== 'pnpm' || c.group);
    // The second opinion: pnpm's own account of the same install.
    const policy = licensePolicy();
    const fromPnpm = pnpmLicenses(target).map((p) => ({
      id: `${p.name}@${p.version}`,
      license: p.license === 'Unknown' ? policy.concluded[`${p.name}@${p.version}`]?.license : p.license,
    }));
    expect(components.map(id).sort()).toEqual(fromPnpm.map((p) => p.id).sort());
    const byId = new Map(components.map((c) => [id(c), c]));
    for (const p of fromPnpm) {
      const c = byId.get(p.id)!;
      expect({ id: p.id, license: licenseOf(c) }).toEqual({ id: p.id, license: p.license });
      expect(c.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(c.hashes?.find((h) => h.alg === 'SHA-512')?.content).toMatch(/^[0-9a-f]{128}$/);
    }
  });

  it('names the Node.js runtime and pnpm it runs on', () => {
    const all = (JSON.parse(sboms.get(target)!) as { components: Component[] }).components;
    const runtime = readFileSync(join(ROOT, 'scripts/lib/runtime.sh'), 'utf8');
    const node = /^FLOW8_NODE_VERSION=(\S+)$/m.exec(runtime)![1]!;
    expect(all.find((c) => c.name === 'node')?.version).toBe(target === 'workspace' ? node : `${node}-slim`);
    expect(all.find((c) => c.name === 'pnpm' && !c.group)?.version).toBe(
      /^FLOW8_PNPM_VERSION=(\S+)$/m.exec(runtime)![1],
    );
  });
});

describe.each(SERVICES)('the %s image SBOM', (service) => {
  it('is what deploy/Dockerfile installs: production dependencies only, no test or build tools', () => {
    expect(readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8')).toContain(
      'pnpm install --frozen-lockfile --prod --filter-prod "@flow8/${SERVICE}..."',
    );
    const components = thirdParty(sboms.get(service)!);
    expect(components.every((c) => c.scope === 'required')).toBe(true);
    const names = new Set(components.map((c) => `${c.group ? `${c.group}/` : ''}${c.name}`));
    for (const tool of ['jest', 'eslint', 'typescript', 'oidc-provider', '@swc/core'])
      expect(names.has(tool)).toBe(false);
    expect(names.has('tsx')).toBe(true); // what `pnpm start` runs the service with
    const all = (JSON.parse(sboms.get(service)!) as { components: Component[] }).components;
    expect(all.some((c) => c.name === 'testkit')).toBe(false);
  });
});

describe('the licence check', () => {
  const bomWith = (licenses: Component['licenses']) => {
    const bom = JSON.parse(sboms.get('auth')!) as { components: Component[] };
    bom.components.push({ type: 'library', name: 'planted', version: '1.0.0', scope: 'required', licenses });
    return JSON.stringify(bom);
  };
  const problems = (json: string) => checkLicenses(json, licensePolicy()).filter((f) => f.problem);

  it('passes the workspace as it is', () => {
    expect(problems(sboms.get('workspace')!)).toEqual([]);
  });

  it.each([
    [[{ license: { id: 'GPL-3.0-only' } }], 'not on the allowlist'],
    [[{ license: { id: 'AGPL-3.0-or-later' } }], 'not on the allowlist'],
    [[{ expression: 'MIT AND SSPL-1.0' }], 'not on the allowlist'],
    [[{ license: { name: 'SEE LICENSE IN LICENSE.md' } }], 'not an SPDX licence expression'],
    [[], 'declares no licence'],
  ] as [Component['licenses'], string][])('fails a planted component licensed %j', (licenses, problem) => {
    expect(problems(bomWith(licenses))).toEqual([
      expect.objectContaining({ component: 'planted@1.0.0', scope: 'runtime', problem }),
    ]);
  });

  it('reads OR as a choice and AND as both', () => {
    const allow = licensePolicy().allow;
    expect(expressionAllowed('(MIT OR GPL-3.0-only)', allow)).toBe(true);
    expect(expressionAllowed('Apache-2.0 AND MIT', allow)).toBe(true);
    expect(expressionAllowed('MIT AND GPL-3.0-only', allow)).toBe(false);
    expect(expressionAllowed('GPL-2.0-only WITH Classpath-exception-2.0', allow)).toBe(false);
  });
});
