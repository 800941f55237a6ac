import { fromBase64, generateSigningKeyPair, publicKeyId, ready, sha256, toHex, verifySignature } from '@flow8/crypto';
import { checkpointCanonical, decodeCheckpoint, signCheckpoint } from './checkpoint';
import { chainHash, decodeEntry, entryCanonical, GENESIS_HASH } from './entry';
import { LedgerFormatError } from './errors';
import { exportCheckpointLine, exportEntryLine, exportHeaderLine } from './export';
import { buildChain, entryFields } from './testing/chain-fixture';

const utf8 = new TextEncoder();
const text = (b: Uint8Array) => new TextDecoder().decode(b);

beforeAll(async () => {
  await ready();
});

describe('entry canonical bytes', () => {
  it('are the sorted, whitespace-free JSON of the fields plus v:1', () => {
    const f = entryFields('ten_a', 42, { z: 1, a: [true, null] });
    expect(text(entryCanonical(f))).toBe(
      '{"actor":{"id":"usr_01J0000000000000000000ADMN","ip":"203.0.113.7","type":"user"},' +
        '"eventId":"0193a000-0000-7000-8000-000000000042","occurredAt":"2026-11-30T07:50:00.042Z",' +
        '"payload":{"a":[true,null],"n":42,"z":1},"purpose":null,"recordedAt":"2026-11-30T07:50:01.042Z",' +
        '"resource":{"id":"usr_42","type":"user"},"seq":42,"tenantId":"ten_a","traceparent":null,' +
        '"type":"identity.user.created","v":1}',
    );
  });

  it('leave out properties that are not v1 entry fields', () => {
    const f = { ...entryFields('ten_a', 1), secret: 'do-not-hash' };
    expect(text(entryCanonical(f))).not.toContain('do-not-hash');
  });

  it('refuse fields a v1 entry cannot hold', () => {
    expect(() => entryCanonical({ ...entryFields('ten_a', 1), seq: 0 })).toThrow(/"seq" must be an integer >= 1/);
    expect(() => entryCanonical({ ...entryFields('ten_a', 1), recordedAt: '2026-11-30T07:50:01Z' })).toThrow(
      /recordedAt.*millisecond/,
    );
    expect(() => entryCanonical({ ...entryFields('ten_a', 1), payload: { at: new Date() } })).toThrow(
      /not a plain object/,
    );
  });

  it('decode back to the entry', () => {
    const f = entryFields('ten_a', 7);
    expect(decodeEntry(entryCanonical(f))).toEqual({ v: 1, ...f });
  });

  it.each([
    ['bad JSON', utf8.encode('{"v":1,'), /not JSON/],
    ['a version other than 1', utf8.encode('{"v":2}'), /unsupported version v=2/],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), /not valid UTF-8/],
    ['a JSON array', utf8.encode('[1]'), /not an object/],
  ])('refuse to decode %s', (_l, bytes, msg) => {
    expect(() => decodeEntry(bytes)).toThrow(LedgerFormatError);
    expect(() => decodeEntry(bytes)).toThrow(msg);
  });

  it('refuse to decode bytes that are not in RFC 8785 form (whitespace, duplicate keys)', () => {
    const good = text(entryCanonical(entryFields('ten_a', 3)));
    expect(() => decodeEntry(utf8.encode(good.replace('"seq":3', '"seq": 3')))).toThrow(/not in RFC 8785 form/);
    // A duplicate key would be read as seq 9 by one parser and seq 3 by another.
    expect(() => decodeEntry(utf8.encode(good.replace('"seq":3', '"seq":3,"seq":9')))).toThrow(/not in RFC 8785 form/);
  });
});

describe('hash chain', () => {
  it('hash(n) = SHA-256(prevHash ‖ canonical), starting from 32 zero bytes', () => {
    const c = entryCanonical(entryFields('ten_a', 1));
    expect(GENESIS_HASH).toEqual(new Uint8Array(32));
    expect(toHex(chainHash(GENESIS_HASH, c))).toBe(toHex(sha256(new Uint8Array(32), c)));
    expect(() => chainHash(new Uint8Array(31), c)).toThrow(/32 bytes/);
  });
});

describe('checkpoints', () => {
  it('are signed over their canonical bytes and name the signing key', () => {
    const kp = generateSigningKeyPair();
    const cp = signCheckpoint(
      { tenantId: 'ten_a', seq: 5, headHash: 'ab'.repeat(32), signedAt: '2026-11-30T08:00:00.000Z' },
      kp,
    );
    expect(cp.fields.keyId).toBe(publicKeyId(kp.publicKey));
    expect(text(cp.canonical)).toBe(
      `{"headHash":"${'ab'.repeat(32)}","keyId":"${cp.fields.keyId}","kind":"flow8.audit.checkpoint",` +
        '"seq":5,"signedAt":"2026-11-30T08:00:00.000Z","tenantId":"ten_a","v":1}',
    );
    expect(cp.canonical).toEqual(checkpointCanonical(cp.fields));
    expect(verifySignature(cp.signature, cp.canonical, kp.publicKey)).toBe(true);
    expect(decodeCheckpoint(cp.canonical)).toEqual({ v: 1, kind: 'flow8.audit.checkpoint', ...cp.fields });
  });

  it('refuse a key pair whose halves do not belong together, and a non-hex head', () => {
    const a = generateSigningKeyPair();
    const b = generateSigningKeyPair();
    const fields = {
      tenantId: 'ten_a',
      seq: 1,
      headHash: '00'.repeat(32),
      signedAt: '2026-11-30T08:00:00.000Z',
    };
    expect(() => signCheckpoint(fields, { publicKey: a.publicKey, secretKey: b.secretKey })).toThrow(/does not belong/);
    expect(() => signCheckpoint({ ...fields, headHash: 'AB'.repeat(32) }, a)).toThrow(/lowercase hex/);
  });
});

describe('export lines', () => {
  it('write kind first and carry hex hashes, base64 canonical and the decoded entry', () => {
    const chain = buildChain(2, { checkpointsAt: [2] });
    const e = chain.entries[1]!;
    const line = exportEntryLine(e);
    expect(line.startsWith('{"kind":"entry","seq":2,')).toBe(true);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed.prevHash).toBe(toHex(chain.entries[0]!.hash));
    expect(parsed.hash).toBe(toHex(e.hash));
    expect(fromBase64(parsed.canonical as string)).toEqual(e.canonical);
    expect(parsed.entry).toEqual(decodeEntry(e.canonical));
    expect(line).not.toContain('\n');

    const header = JSON.parse(
      exportHeaderLine({
        tenantId: chain.tenantId,
        generatedAt: '2026-11-30T09:00:00.000Z',
        from: null,
        to: null,
        complete: true,
        publicKeys: [chain.keyPair.publicKey],
      }),
    ) as Record<string, unknown>;
    expect(Object.keys(header)[0]).toBe('kind');
    expect(header.publicKeys).toEqual([
      {
        keyId: publicKeyId(chain.keyPair.publicKey),
        publicKey: Buffer.from(chain.keyPair.publicKey).toString('base64'),
      },
    ]);

    const cpLine = JSON.parse(exportCheckpointLine(chain.checkpoints[0]!)) as Record<string, unknown>;
    expect(Object.keys(cpLine)).toEqual([
      'kind',
      'tenantId',
      'seq',
      'headHash',
      'signedAt',
      'keyId',
      'signature',
      'canonical',
    ]);
    expect(cpLine.headHash).toBe(toHex(e.hash));
  });

  it('still export a row whose stored bytes no longer decode, with entry null', () => {
    const chain = buildChain(1);
    const row = { ...chain.entries[0]!, canonical: utf8.encode('{broken') };
    expect(JSON.parse(exportEntryLine(row))).toMatchObject({ kind: 'entry', seq: 1, entry: null });
  });
});
