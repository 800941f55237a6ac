// Identifiers. Events use UUIDv7 (RFC 9562); resources use prefixed, time-sortable ids
// (`usr_` + 26 Crockford base32 chars of a UUIDv7), so ids sort by creation time and say
// what they name.
import { randomBytes } from 'node:crypto';

export const ID_PREFIXES = ['ten', 'usr', 'flw', 'exe', 'crd', 'evt', 'key', 'grt', 'prt', 'ses', 'req'] as const;
export type IdPrefix = (typeof ID_PREFIXES)[number];

let lastMs = 0;
let lastSeq = 0;

/** 16 bytes of a UUIDv7: 48-bit ms timestamp, version, 12-bit counter within the ms, variant, random. */
function uuidv7Bytes(now = Date.now()): Buffer {
  const bytes = randomBytes(16);
  // A monotonic counter in rand_a keeps ids from the same millisecond in creation order.
  if (now <= lastMs) {
    lastSeq += 1;
    if (lastSeq > 0xfff) {
      lastMs += 1;
      lastSeq = 0;
    }
    now = lastMs;
  } else {
    lastMs = now;
    lastSeq = 0;
  }
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = 0x70 | ((lastSeq >> 8) & 0x0f);
  bytes[7] = lastSeq & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  return bytes;
}

export function uuidv7(): string {
  const h = uuidv7Bytes().toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

function base32(bytes: Buffer): string {
  // 128 bits → 26 chars, most significant first (2 pad bits at the front), so it sorts like the bytes.
  let value = BigInt('0x' + bytes.toString('hex'));
  let out = '';
  for (let i = 0; i < 26; i += 1) {
    out = CROCKFORD[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return out;
}

export function newId<P extends IdPrefix>(prefix: P): `${P}_${string}` {
  return `${prefix}_${base32(uuidv7Bytes())}`;
}

export function isId(prefix: IdPrefix, value: unknown): value is string {
  return typeof value === 'string' && new RegExp(`^${prefix}_[0-9a-z]{26}$`).test(value);
}
