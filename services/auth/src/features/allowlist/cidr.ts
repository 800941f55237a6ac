// Strict CIDR parsing for the company allowlist. Strict means: the prefix length is required,
// no leading zeros, no zone ids, and no host bits set (10.0.0.1/8 is almost always a typo for
// something else, so it is refused rather than silently widened). Output is canonical (IPv6 per
// RFC 5952), so the gateway and the audit trail see one spelling per network.
import { isIPv6 } from 'node:net';

export type CidrCheck = { ok: true; cidr: string } | { ok: false; reason: string };

const V4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\/(0|[1-9]\d?)$/;
const PREFIX = /^(0|[1-9]\d{0,2})$/;

function hostBitsZero(bytes: number[], prefix: number): boolean {
  for (let bit = prefix; bit < bytes.length * 8; bit += 1) {
    if (((bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) return false;
  }
  return true;
}

function ipv6Bytes(addr: string): number[] {
  let text = addr;
  const tail: number[] = [];
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    tail.push(...v4.slice(1, 5).map(Number));
    text = `${text.slice(0, v4.index)}0:0`;
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = parse(head);
  const r = parse(rest);
  const groups = rest === undefined ? h : [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  const bytes = groups.flatMap((g) => [(g >> 8) & 0xff, g & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

function formatIpv6(bytes: number[]): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  // Longest run of two or more zero groups (the first one on a tie) becomes "::".
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function parseCidr(input: string): CidrCheck {
  const bad = (reason: string): CidrCheck => ({ ok: false, reason: `${JSON.stringify(input)} ${reason}` });
  if (input.length > 49) return bad('is too long for a CIDR');
  const m4 = V4.exec(input);
  if (m4) {
    const octets = m4.slice(1, 5).map(Number);
    const prefix = Number(m4[5]);
    if (octets.some((o) => o > 255)) return bad('is not an IPv4 address');
    if (prefix > 32) return bad('has a prefix length above 32');
    if (!hostBitsZero(octets, prefix)) return bad('has host bits set beyond its prefix length');
    return { ok: true, cidr: `${octets.join('.')}/${prefix}` };
  }
  const slash = input.lastIndexOf('/');
  if (slash < 0) return bad('has no prefix length (write 203.0.113.7/32 for one address)');
  const addr = input.slice(0, slash);
  const prefixText = input.slice(slash + 1);
  if (!addr.includes(':')) return bad('is not an IPv4 or IPv6 CIDR');
  if (addr.includes('%') || !isIPv6(addr)) return bad('is not an IPv6 address');
  if (!PREFIX.test(prefixText) || Number(prefixText) > 128) return bad('has a prefix length that is not 0-128');
  const prefix = Number(prefixText);
  const bytes = ipv6Bytes(addr.toLowerCase());
  if (bytes.length !== 16) return bad('is not an IPv6 address');
  if (!hostBitsZero(bytes, prefix)) return bad('has host bits set beyond its prefix length');
  return { ok: true, cidr: `${formatIpv6(bytes)}/${prefix}` };
}

/** Validates and canonicalises a list; duplicates (after canonicalisation) are dropped, order kept. */
export function parseCidrList(
  inputs: readonly string[],
): { ok: true; cidrs: string[] } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const out: string[] = [];
  for (const input of inputs) {
    const r = parseCidr(input);
    if (!r.ok) problems.push(r.reason);
    else if (!out.includes(r.cidr)) out.push(r.cidr);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, cidrs: out };
}
