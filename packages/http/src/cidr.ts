// The one CIDR parser of flow8: the company allowlist (auth), API-key networks (auth at issue,
// the gateway at use), the gateway's configured lists and the egress guard's private ranges all
// read networks through parseCidr.
//
// The host-bits rule, decided once: a network whose address has bits set beyond its prefix length
// (`10.0.0.1/8`) is REFUSED, with the network that was probably meant in the message — never
// silently widened to 10.0.0.0/8, which could let in far more than the author meant. A request
// that sends one gets a 400; a configured list that holds one stops the service at boot.
// Strict otherwise too: no whitespace, no leading zeros, no zone ids; the prefix length is
// required except where a caller allows a bare address (one host: /32 or /128). Output is
// canonical (IPv6 per RFC 5952), so every service and the audit trail see one spelling.
import { BlockList, isIP, isIPv6 } from 'node:net';

export type CidrParse =
  { ok: true; cidr: string; address: string; prefix: number; family: 4 | 6 } | { ok: false; reason: string };

export interface CidrOptions {
  /** Accept a bare address as a single host (configured lists); user input always needs a prefix. */
  bareAddress?: boolean;
}

const V4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
const PREFIX = /^(0|[1-9]\d{0,2})$/;
/** Longest valid form: a full IPv6 address with an embedded IPv4 tail and /128. */
const MAX_LENGTH = 49;

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

const hostBitsSet = (bytes: readonly number[], prefix: number): boolean => {
  for (let bit = prefix; bit < bytes.length * 8; bit += 1) {
    if (((bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) return true;
  }
  return false;
};

const masked = (bytes: readonly number[], prefix: number): number[] =>
  bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });

const render = (bytes: number[], family: 4 | 6) => (family === 4 ? bytes.join('.') : formatIpv6(bytes));

/** Parses one network (`203.0.113.0/24`, `2001:db8::/32`; a bare address only when allowed). */
export function parseCidr(input: string, opts: CidrOptions = {}): CidrParse {
  const shown = JSON.stringify(typeof input === 'string' ? input.slice(0, 64) : input);
  const bad = (reason: string): CidrParse => ({ ok: false, reason: `${shown} ${reason}` });
  if (typeof input !== 'string') return bad('is not a CIDR');
  if (input.length > MAX_LENGTH) return bad('is too long for a CIDR');
  const slash = input.indexOf('/');
  const addr = slash < 0 ? input : input.slice(0, slash);
  const prefixText = slash < 0 ? undefined : input.slice(slash + 1);
  if (prefixText === undefined && !opts.bareAddress) {
    return bad('has no prefix length (write 203.0.113.7/32 for one address)');
  }

  let family: 4 | 6;
  let bytes: number[];
  if (V4.test(addr)) {
    bytes = addr.split('.').map(Number);
    if (bytes.some((o) => o > 255)) return bad('is not an IPv4 address');
    family = 4;
  } else if (addr.includes(':')) {
    if (addr.includes('%') || !isIPv6(addr)) return bad('is not an IPv6 address');
    bytes = ipv6Bytes(addr.toLowerCase());
    if (bytes.length !== 16) return bad('is not an IPv6 address');
    family = 6;
  } else {
    return bad('is not an IPv4 or IPv6 address and prefix length, like 203.0.113.0/24 or 2001:db8::/32');
  }

  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!PREFIX.test(prefixText)) return bad(`has a prefix length that is not 0-${max} (no leading zeros)`);
    prefix = Number(prefixText);
    if (prefix > max) return bad(`has a prefix length above ${max}`);
  }
  if (hostBitsSet(bytes, prefix)) {
    return bad(
      `has host bits set beyond its prefix length (the network is ${render(masked(bytes, prefix), family)}/${prefix})`,
    );
  }
  const address = render(bytes, family);
  return { ok: true, cidr: `${address}/${prefix}`, address, prefix, family };
}

/** Validates and canonicalises a list; duplicates (after canonicalisation) are dropped, order kept. */
export function parseCidrList(
  inputs: readonly string[],
  opts: CidrOptions = {},
): { ok: true; cidrs: string[] } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const out: string[] = [];
  for (const input of inputs) {
    const r = parseCidr(input, opts);
    if (!r.ok) problems.push(r.reason);
    else if (!out.includes(r.cidr)) out.push(r.cidr);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, cidrs: out };
}

/** A client address as matched against lists: an IPv4 client on a dual-stack socket (`::ffff:203.0.113.9`) is IPv4. */
export function normaliseIp(ip: string): string {
  const lower = ip.trim().toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  return mapped?.[1] ?? lower;
}

export type CidrBlockList = { ok: true; list: BlockList } | { ok: false; bad: string; reason: string };

/** A node:net BlockList of the networks in `cidrs` (parsed by parseCidr; IPv4-mapped networks match IPv4 clients). */
export function cidrBlockList(cidrs: readonly string[], opts: CidrOptions = {}): CidrBlockList {
  const list = new BlockList();
  for (const raw of cidrs) {
    const r = parseCidr(raw, opts);
    if (!r.ok) return { ok: false, bad: raw, reason: r.reason };
    const mapped = r.family === 6 && r.prefix >= 96 ? /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(r.address) : null;
    if (mapped) {
      const hi = parseInt(mapped[1]!, 16);
      const lo = parseInt(mapped[2]!, 16);
      list.addSubnet(`${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`, r.prefix - 96, 'ipv4');
    }
    list.addSubnet(r.address, r.prefix, r.family === 4 ? 'ipv4' : 'ipv6');
  }
  return { ok: true, list };
}

/** For configured lists: throws at boot naming the entry and the reason (CIDRs are not secrets). Bare addresses allowed. */
export function cidrListOrThrow(name: string, cidrs: readonly string[]): BlockList {
  const r = cidrBlockList(cidrs, { bareAddress: true });
  if (!r.ok) throw new Error(`${name}: ${r.reason}`);
  return r.list;
}

/** Whether `ip` (normalised first) is in the list; anything that is not an address is not. */
export function ipIn(list: BlockList, ip: string): boolean {
  const addr = normaliseIp(ip);
  const family = isIP(addr);
  if (family === 0) return false;
  return list.check(addr, family === 4 ? 'ipv4' : 'ipv6');
}
