// Runs the real CLI as a child process, the way a compliance officer would.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ready } from '@flow8/crypto';
import { buildChain, exportLines, publicKeyBase64, type Chain } from '../testing/chain-fixture';

const root = resolve(process.cwd());
const tsx = join(root, 'node_modules/.bin/tsx');
const cli = join(root, 'packages/ledger/src/cli/verify.ts');

type Run = { code: number; stdout: string; stderr: string };

function run(args: string[], stdin?: string): Promise<Run> {
  return new Promise((done) => {
    const child = execFile(tsx, [cli, ...args], { cwd: root }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ code, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

let dir: string;
let chain: Chain;
let good: string;
let tampered: string;

beforeAll(async () => {
  await ready();
  dir = mkdtempSync(join(tmpdir(), 'flow8-audit-verify-'));
  chain = buildChain(12, { checkpointsAt: [6, 12] });
  const lines = exportLines(chain, chain.entries, chain.checkpoints);
  good = join(dir, 'good.ndjson');
  writeFileSync(good, `${lines.join('\n')}\n`);
  const bad = lines.slice();
  // Line 8 is entry 7: change one character of its base64 canonical bytes.
  bad[7] = bad[7]!.replace(/"canonical":"(.)/, (_m, c: string) => `"canonical":"${c === 'A' ? 'B' : 'A'}`);
  tampered = join(dir, 'tampered.ndjson');
  writeFileSync(tampered, `${bad.join('\n')}\n`);
  writeFileSync(join(dir, 'key.b64'), `${publicKeyBase64(chain)}\n`);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('audit-verify CLI', () => {
  it('exits 0 and prints the summary for a faithful export', async () => {
    const r = await run(['--export', good, '--public-key', publicKeyBase64(chain)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^OK: 12 entries verified, head seq 12 [0-9a-f]{64}, 2 checkpoints verified\n$/);
  });

  it('exits 1 and names the first bad seq for a tampered export', async () => {
    const r = await run(['--export', tampered, '--public-key', `@${join(dir, 'key.b64')}`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAILED at seq 7: hash mismatch .*\[export line 8\]/);
  });

  it('reads standard input and prints JSON with --json', async () => {
    const r = await run(
      ['--export', '-', '--public-key', publicKeyBase64(chain), '--json'],
      readFileSync(tampered, 'utf8'),
    );
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      firstBadSeq: 7,
      checked: 12,
      tenantId: chain.tenantId,
    });
  });

  it('takes checkpoints kept outside the system and reports an export cut short before one', async () => {
    // Entries 10..12 and the checkpoint at 12 left out consistently: on its own it verifies.
    const cut = join(dir, 'cut.ndjson');
    writeFileSync(cut, `${exportLines(chain, chain.entries.slice(0, 9), [chain.checkpoints[0]!]).join('\n')}\n`);
    const alone = await run(['--export', cut, '--public-key', publicKeyBase64(chain)]);
    expect(alone.code).toBe(0);
    // The auditor kept the earlier full export (its checkpoint lines are what count).
    const r = await run(['--export', cut, '--public-key', publicKeyBase64(chain), '--checkpoints', good]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAILED at seq 10: truncated: .*checkpoint covers seq 12/);
    const unreadable = await run([
      '--export',
      cut,
      '--public-key',
      publicKeyBase64(chain),
      '--checkpoints',
      join(dir, 'nope'),
    ]);
    expect(unreadable.code).toBe(2);
  });

  it('fails when only an untrusted key is given, and exits 2 on usage errors', async () => {
    const other = buildChain(1);
    const untrusted = await run(['--export', good, '--public-key', publicKeyBase64(other)]);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stdout).toMatch(/FAILED at seq 6: .*untrusted key/);

    const noKey = await run(['--export', good]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/--public-key is required/);
    const badKey = await run(['--export', good, '--public-key', 'AAAA']);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/32 bytes/);
    const missing = await run(['--export', join(dir, 'nope.ndjson'), '--public-key', publicKeyBase64(chain)]);
    expect(missing.code).toBe(2);
    const unknownFlag = await run(['--export', good, '--public-key', publicKeyBase64(chain), '--fast']);
    expect(unknownFlag.code).toBe(2);
  });
});
