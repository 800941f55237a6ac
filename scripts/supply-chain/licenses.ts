// The licence report: every third-party component of an SBOM against the allowlist in
// license-policy.json. Exits 1 naming each component whose licence is not allowed or unknown.
//
//   pnpm run licenses:check                   the workspace (every image's packages are in it)
//   pnpm run licenses:check --target auth     one service image
import { fileURLToPath } from 'node:url';
import spdxParse from 'spdx-expression-parse';
import { buildSbom, licensePolicy, type LicensePolicy, SERVICES, type Target } from './sbom';

interface BomComponent {
  group?: string;
  name: string;
  version?: string;
  scope?: string;
  licenses?: ({ license: { id?: string; name?: string } } | { expression: string })[];
  properties?: { name: string; value: string }[];
}

export interface LicenseFinding {
  component: string;
  scope: 'runtime' | 'development';
  license: string;
  problem: string | null;
}

/** Whether an SPDX expression is allowed: an id on the list; AND needs both sides, OR either. */
export function expressionAllowed(expression: string, allow: readonly string[]): boolean {
  const ok = (node: spdxParse.Info): boolean => {
    if ('conjunction' in node) {
      return node.conjunction === 'and' ? ok(node.left) && ok(node.right) : ok(node.left) || ok(node.right);
    }
    // "GPL-2.0+" or an exception ("WITH Classpath-exception-2.0") is allowed only when listed verbatim.
    const id = node.license + (node.plus ? '+' : '') + (node.exception ? ` WITH ${node.exception}` : '');
    return allow.includes(id);
  };
  return ok(spdxParse(expression));
}

export function checkLicenses(bomJson: string, policy: LicensePolicy): LicenseFinding[] {
  const bom = JSON.parse(bomJson) as { components: BomComponent[] };
  const findings: LicenseFinding[] = [];
  for (const c of bom.components) {
    const props = new Map((c.properties ?? []).map((p) => [p.name, p.value]));
    // flow8's own workspace packages carry flow8's licence, not a third party's.
    if (props.get('cdx:npm:package:private') === 'true') continue;
    const component = `${c.group ? `${c.group}/` : ''}${c.name}@${c.version ?? '?'}`;
    const scope = c.scope === 'excluded' ? 'development' : 'runtime';
    const entries = c.licenses ?? [];
    if (entries.length === 0) {
      findings.push({ component, scope, license: 'none', problem: 'declares no licence' });
      continue;
    }
    for (const e of entries) {
      const license = 'expression' in e ? e.expression : (e.license.id ?? e.license.name ?? '');
      let problem: string | null = null;
      try {
        if (!expressionAllowed(license, policy.allow)) problem = 'not on the allowlist';
      } catch {
        problem = 'not an SPDX licence expression';
      }
      findings.push({ component, scope, license, problem });
    }
  }
  return findings;
}

function main(argv: string[]): number {
  let target: Target = 'workspace';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--target') target = argv[++i] as Target;
    else {
      console.error(`usage: pnpm run licenses:check [--target workspace|${SERVICES.join('|')}]`);
      return 2;
    }
  }
  const findings = checkLicenses(buildSbom(target), licensePolicy());
  const counts = new Map<string, { runtime: number; development: number }>();
  for (const f of findings) {
    const n = counts.get(f.license) ?? { runtime: 0, development: 0 };
    n[f.scope]++;
    counts.set(f.license, n);
  }
  console.log(`licence report (${target}): ${findings.length} third-party components`);
  for (const [license, n] of [...counts].sort(
    (a, b) => b[1].runtime + b[1].development - a[1].runtime - a[1].development,
  )) {
    console.log(
      `  ${license.padEnd(28)} runtime ${String(n.runtime).padStart(4)}   development ${String(n.development).padStart(4)}`,
    );
  }
  const bad = findings.filter((f) => f.problem);
  for (const f of bad) console.error(`licence: ${f.component} (${f.scope}): ${f.license}: ${f.problem}`);
  if (bad.length > 0) {
    console.error(`licence check FAILED: ${bad.length} component(s) outside scripts/supply-chain/license-policy.json`);
    return 1;
  }
  console.log('licence check: OK, every licence is on the allowlist');
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exit(main(process.argv.slice(2)));
}
