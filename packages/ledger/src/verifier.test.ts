import { generateSigningKeyPair, ready, toHex } from '@flow8/crypto';
import { signCheckpoint, type SignedCheckpoint } from './checkpoint';
import type { StoredEntry } from './export';
import { parseCheckpointFile, verifyExportStream } from './stream';
import { appendEntries, asAsync, buildChain, entryFields, exportLines, type Chain } from './testing/chain-fixture';
import { createChainVerifier } from './verifier';

const N = 10;
let chain: Chain;

beforeAll(async () => {
  await ready();
  chain = buildChain(N, { checkpointsAt: [5, N] });
});

function verify(
  entries: StoredEntry[],
  checkpoints: SignedCheckpoint[] = chain.checkpoints,
  opts: { complete?: boolean; keys?: Uint8Array[]; lines?: (l: string[]) => string[] } = {},
) {
  const lines = exportLines(chain, entries, checkpoints, { complete: opts.complete ?? true });
  return verifyExportStream(asAsync(opts.lines ? opts.lines(lines) : lines), opts.keys ?? [chain.keyPair.publicKey]);
}

const seqs = Array.from({ length: N }, (_, i) => i + 1);

describe('a faithful export', () => {
  it('verifies, reporting the head and the checkpoints', async () => {
    const r = await verify(chain.entries);
    expect(r).toEqual({
      ok: true,
      checked: N,
      firstBadSeq: null,
      reason: null,
      head: { seq: N, hash: toHex(chain.entries[N - 1]!.hash) },
      checkpointsVerified: 2,
      tenantId: chain.tenantId,
      complete: true,
      line: null,
    });
  });

  it('verifies with checkpoints placed before or between the entries too', async () => {
    const [cp5, cp10] = chain.checkpoints;
    const v = createChainVerifier({
      tenantId: chain.tenantId,
      trustedPublicKeys: [chain.keyPair.publicKey],
      complete: true,
    });
    const row = (cp: SignedCheckpoint) => ({
      ...cp.fields,
      canonical: cp.canonical,
      signature: cp.signature,
    });
    v.checkpoint(row(cp10!));
    chain.entries.slice(0, 7).forEach((e) => v.entry(e));
    v.checkpoint(row(cp5!));
    chain.entries.slice(7).forEach((e) => v.entry(e));
    expect(v.result()).toMatchObject({ ok: true, checked: N, checkpointsVerified: 2 });
  });

  it('verifies a partial export anchored by its first prevHash, and checks a checkpoint at the anchor', async () => {
    const cp3 = signCheckpoint(
      {
        tenantId: chain.tenantId,
        seq: 3,
        headHash: toHex(chain.entries[2]!.hash),
        signedAt: '2026-11-30T08:00:00.000Z',
      },
      chain.keyPair,
    );
    const r = await verify(chain.entries.slice(3), [cp3, ...chain.checkpoints], { complete: false });
    expect(r).toMatchObject({ ok: true, checked: N - 3, checkpointsVerified: 3 });

    // A forger who recomputes 4..10 from a made-up anchor passes the chain checks, not the checkpoint at 3.
    const fromFakeAnchor = appendEntries(
      seqs.slice(3).map((s) => entryFields(chain.tenantId, s)),
      new Uint8Array(32).fill(7),
    );
    const bad = await verify(fromFakeAnchor, [cp3], { complete: false });
    expect(bad).toMatchObject({ ok: false, firstBadSeq: 3, checked: N - 3 });
    expect(bad.reason).toMatch(/the anchor \(prevHash of the first entry\)/);
    expect((await verify(fromFakeAnchor, [], { complete: false })).ok).toBe(true);
  });
});

describe('tampering is found at the right seq', () => {
  it.each(seqs)('one byte flipped in the canonical bytes of entry %i', async (k) => {
    const entries = chain.entries.map((e) => ({ ...e }));
    const canonical = entries[k - 1]!.canonical.slice();
    const at = Buffer.from(canonical).indexOf('"n":') + 4; // the first digit of payload.n
    canonical[at] = canonical[at]! ^ 1;
    entries[k - 1]!.canonical = canonical;
    const r = await verify(entries);
    expect(r).toMatchObject({ ok: false, firstBadSeq: k, checked: N, line: k + 1 });
    expect(r.reason).toMatch(/hash mismatch/);
  });

  it.each(seqs)('entry %i deleted', async (k) => {
    const r = await verify(chain.entries.filter((e) => e.seq !== k));
    expect(r.ok).toBe(false);
    expect(r.firstBadSeq).toBe(k);
  });

  it.each(seqs.slice(0, -1))('entries %i and the next swapped', async (k) => {
    const entries = chain.entries.slice();
    [entries[k - 1], entries[k]] = [entries[k]!, entries[k - 1]!];
    const r = await verify(entries);
    expect(r).toMatchObject({ ok: false, firstBadSeq: k });
    expect(r.reason).toMatch(/gap: expected seq/);
  });

  it('an entry duplicated', async () => {
    const entries = [...chain.entries.slice(0, 4), chain.entries[3]!, ...chain.entries.slice(4)];
    expect(await verify(entries)).toMatchObject({ ok: false, firstBadSeq: 5 });
  });

  it.each([1, 6])('prevHash of entry %i changed', async (k) => {
    const entries = chain.entries.map((e) => (e.seq === k ? { ...e, prevHash: new Uint8Array(32).fill(1) } : e));
    const r = await verify(entries);
    expect(r).toMatchObject({ ok: false, firstBadSeq: k });
    expect(r.reason).toMatch(k === 1 ? /genesis/ : /does not link/);
  });

  it('an entry rewritten and every later hash recomputed: caught by the next signed checkpoint', async () => {
    const rewritten = appendEntries(
      [entryFields(chain.tenantId, 3, { role: 'admin' }), ...seqs.slice(3).map((s) => entryFields(chain.tenantId, s))],
      chain.entries[1]!.hash,
    );
    const entries = [...chain.entries.slice(0, 2), ...rewritten];
    const r = await verify(entries);
    expect(r).toMatchObject({ ok: false, firstBadSeq: 5 });
    expect(r.reason).toMatch(/checkpoint mismatch.*rewritten at or before seq 5/);
    // Without the checkpoints the rewrite is internally consistent: that is what checkpoints are for.
    expect((await verify(entries, [])).ok).toBe(true);
  });

  it('an entry of another tenant spliced in (chain recomputed)', async () => {
    const fields = seqs.map((s) => entryFields(s === 4 ? 'ten_OTHER' : chain.tenantId, s));
    const r = await verify(appendEntries(fields), []);
    expect(r).toMatchObject({ ok: false, firstBadSeq: 4 });
    expect(r.reason).toMatch(/tenant "ten_OTHER"/);
  });

  it('a complete export truncated before a signed checkpoint', async () => {
    const r = await verify(chain.entries.slice(0, 7));
    expect(r).toMatchObject({ ok: false, firstBadSeq: 8, line: null, checked: 7 });
    expect(r.reason).toMatch(/truncated.*checkpoint covers seq 10; entries 8\.\.10 are missing/);
  });
});

describe('checkpoints are only trusted when they should be', () => {
  it('a forged signature', async () => {
    const [cp5, cp10] = chain.checkpoints;
    const sig = cp5!.signature.slice();
    sig[0] = sig[0]! ^ 1;
    const r = await verify(chain.entries, [{ ...cp5!, signature: sig }, cp10!]);
    expect(r).toMatchObject({ ok: false, firstBadSeq: 5, checkpointsVerified: 0 });
    expect(r.reason).toMatch(/invalid signature/);
  });

  it('a checkpoint signed by a key the verifier was not given (even if the header lists it)', async () => {
    const rogue = generateSigningKeyPair();
    const forged = signCheckpoint({ ...chain.checkpoints[0]!.fields }, rogue);
    const lines = exportLines({ tenantId: chain.tenantId, keyPair: rogue }, chain.entries, [forged]);
    const r = await verifyExportStream(asAsync(lines), [chain.keyPair.publicKey]);
    expect(r).toMatchObject({ ok: false, firstBadSeq: 5 });
    expect(r.reason).toMatch(/untrusted key/);
  });

  it('a checkpoint line whose fields differ from what was signed', async () => {
    const cp = chain.checkpoints[0]!;
    const altered = { ...cp, fields: { ...cp.fields, headHash: toHex(chain.entries[5]!.hash) } };
    const r = await verify(chain.entries, [altered]);
    expect(r).toMatchObject({ ok: false, firstBadSeq: 5 });
    expect(r.reason).toMatch(/headHash .* differs from the signed value/);
  });

  it('a correctly signed checkpoint for another tenant', async () => {
    const other = signCheckpoint({ ...chain.checkpoints[0]!.fields, tenantId: 'ten_OTHER' }, chain.keyPair);
    const r = await verify(chain.entries, [other]);
    expect(r.reason).toMatch(/signed for tenant "ten_OTHER"/);
  });
});

describe('export parsing', () => {
  it('names the line of a malformed line and the seq expected there', async () => {
    const r = await verify(chain.entries, [], {
      lines: (l) => [...l.slice(0, 4), '{"kind":"entry",', ...l.slice(5)],
    });
    expect(r).toMatchObject({ ok: false, line: 5, firstBadSeq: 4 });
    expect(r.reason).toMatch(/not valid JSON/);
  });

  it('refuses an entry line with a malformed field, and an unknown kind', async () => {
    const bad = await verify(chain.entries, [], {
      lines: (l) => l.map((x, i) => (i === 3 ? x.replace(/"hash":"[0-9a-f]+"/, '"hash":"XYZ"') : x)),
    });
    expect(bad).toMatchObject({ ok: false, line: 4, firstBadSeq: 3 });
    expect(bad.reason).toMatch(/"hash" must be 64 lowercase hex/);
    const unknown = await verify(chain.entries, [], { lines: (l) => [...l, '{"kind":"note"}'] });
    expect(unknown).toMatchObject({ ok: false, line: N + 2 });
  });

  it('requires the header first and tolerates CRLF and blank lines', async () => {
    const noHeader = await verify(chain.entries, [], { lines: (l) => l.slice(1) });
    expect(noHeader).toMatchObject({
      ok: false,
      tenantId: null,
      line: 1,
      reason: 'the first line must be the export header',
    });
    const crlf = await verify(chain.entries, chain.checkpoints, {
      lines: (l) => [...l.map((x) => `${x}\r`), ''],
    });
    expect(crlf.ok).toBe(true);
    const empty = await verifyExportStream(asAsync([]), [chain.keyPair.publicKey]);
    expect(empty).toMatchObject({ ok: false, reason: 'the export is empty (no header line)' });
  });
});

describe('indexed columns (what searches use) must agree with the hashed bytes', () => {
  it.each([
    ['actorId', { actorId: 'usr_SOMEONE_ELSE' }],
    ['resourceId', { resourceId: 'usr_hidden' }],
    ['occurredAt', { occurredAt: '2001-01-01T00:00:00.000000Z' }],
    ['type', { type: 'identity.login.failed' }],
  ])('a changed %s column is reported at its seq, online and offline', async (name, change) => {
    const entries = chain.entries.map((e) => (e.seq === 6 ? { ...e, columns: { ...e.columns!, ...change } } : e));
    const v = createChainVerifier({ tenantId: chain.tenantId, trustedPublicKeys: [], complete: true });
    entries.forEach((e) => v.entry(e));
    expect(v.result()).toMatchObject({ ok: false, firstBadSeq: 6 });
    const r = await verify(entries);
    expect(r).toMatchObject({ ok: false, firstBadSeq: 6, line: 7 });
    expect(r.reason).toMatch(new RegExp(`indexed column ${name} disagrees with the canonical bytes`));
    expect(r.reason).not.toContain(Object.values(change)[0]);
  });

  it('a v2 entry line without its columns is malformed; a v1 export (no columns) still verifies', async () => {
    const stripped = await verify(chain.entries, chain.checkpoints, {
      lines: (l) => l.map((x, i) => (i === 3 ? x.replace(/,"columns":\{[^}]*\}/, '') : x)),
    });
    expect(stripped).toMatchObject({ ok: false, firstBadSeq: 3, line: 4 });
    expect(stripped.reason).toMatch(/"columns" must be an object/);
    const v1 = await verify(chain.entries, chain.checkpoints, {
      lines: (l) =>
        l.map((x, i) => (i === 0 ? x.replace('export.v2', 'export.v1') : x.replace(/,"columns":\{[^}]*\}/, ''))),
    });
    expect(v1).toMatchObject({ ok: true, checkpointsVerified: 2 });
  });
});

describe('checkpoints kept outside the system', () => {
  const apiBody = (cps: SignedCheckpoint[]) =>
    JSON.stringify({
      items: cps.map((c) => ({
        seq: c.fields.seq,
        headHash: c.fields.headHash,
        signedAt: c.fields.signedAt,
        keyId: c.fields.keyId,
        signature: Buffer.from(c.signature).toString('base64'),
        canonical: Buffer.from(c.canonical).toString('base64'),
      })),
      publicKeys: [],
    });

  it('catch an export cut short consistently (entries, and the checkpoints beyond them, left out)', async () => {
    // What an owner who deleted the newest entries and rewrote the head row would export.
    const cut = exportLines(chain, chain.entries.slice(0, 7), [chain.checkpoints[0]!]);
    const alone = await verifyExportStream(asAsync(cut), [chain.keyPair.publicKey]);
    expect(alone.ok).toBe(true);
    for (const kept of [
      parseCheckpointFile(apiBody([chain.checkpoints[1]!])),
      parseCheckpointFile(exportLines(chain, chain.entries, chain.checkpoints).join('\n')),
    ]) {
      const r = await verifyExportStream(asAsync(cut), [chain.keyPair.publicKey], { checkpoints: kept });
      expect(r).toMatchObject({ ok: false, firstBadSeq: 8, line: null });
      expect(r.reason).toMatch(/truncated.*checkpoint covers seq 10; entries 8\.\.10 are missing/);
    }
  });

  it('are trusted only under a given key, and a faithful export verifies with them', async () => {
    const kept = parseCheckpointFile(apiBody(chain.checkpoints));
    expect(kept.map((c) => c.tenantId)).toEqual([chain.tenantId, chain.tenantId]);
    const ok = await verify(chain.entries, [], {});
    expect(ok.ok).toBe(true);
    const withKept = await verifyExportStream(
      asAsync(exportLines(chain, chain.entries, [])),
      [chain.keyPair.publicKey],
      {
        checkpoints: kept,
      },
    );
    expect(withKept).toMatchObject({ ok: true, checkpointsVerified: 2 });
    const rogue = await verifyExportStream(
      asAsync(exportLines(chain, chain.entries, [])),
      [generateSigningKeyPair().publicKey],
      { checkpoints: kept },
    );
    expect(rogue).toMatchObject({ ok: false, firstBadSeq: 5 });
    expect(rogue.reason).toMatch(/untrusted key/);
  });

  it('an unreadable file is refused naming the item', () => {
    expect(() => parseCheckpointFile('{"items":[{"seq":1}]}')).toThrow(/items\[0\]/);
    expect(() => parseCheckpointFile('{"kind":"checkpoint","seq":1}\nnot json')).toThrow(/line 1/);
  });
});
