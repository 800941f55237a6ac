// Strict CIDR parsing for API-key network restrictions: IPv4 dotted quad or IPv6, a prefix
// length in range, and no host bits set (`10.0.0.1/8` is a typo, not a network). Zone ids,
// leading zeros and whitespace are refused.
import { isIP } from 'node:net';

export type CidrCheck = { ok: true; family: 4 | 6 } | { ok: false; reason: string };

function ipv4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

function ipv6Bytes(ip: string): number[] | null {
  let text = ip;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    if (isIP(last) !== 4) return null;
    tail = ipv4Bytes(last);
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0] ?? '');
  const rest = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...rest];
  const bytes = all.flatMap((g) => {
    const v = parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes.length === 16 && bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255) ? bytes : null;
}

export function checkCidr(text: string): CidrCheck {
  const m = /^([0-9A-Fa-f:.]+)\/(0|[1-9][0-9]{0,2})$/.exec(text);
  if (!m) return { ok: false, reason: 'must be an address and a prefix length, like 203.0.113.0/24 or 2001:db8::/32' };
  const ip = m[1]!;
  const prefix = Number(m[2]);
  const family = isIP(ip);
  if (family !== 4 && family !== 6) return { ok: false, reason: 'is not a valid IPv4 or IPv6 address' };
  const max = family === 4 ? 32 : 128;
  if (prefix > max) return { ok: false, reason: `prefix length must be at most ${max}` };
  const bytes = family === 4 ? ipv4Bytes(ip) : ipv6Bytes(ip);
  if (!bytes) return { ok: false, reason: 'is not a valid IPv4 or IPv6 address' };
  for (let bit = prefix; bit < max; bit += 1) {
    if (((bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) {
      return { ok: false, reason: 'has address bits set beyond the prefix length (did you mean the network address?)' };
    }
  }
  return { ok: true, family };
}
