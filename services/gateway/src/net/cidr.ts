// CIDR lists (IPv4 and IPv6) as node:net BlockLists, and client addresses normalised so an
// IPv4 client seen on a dual-stack socket (`::ffff:203.0.113.9`) matches IPv4 rules.
import { BlockList, isIP } from 'node:net';

export function normaliseIp(ip: string): string {
  const lower = ip.trim().toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  return mapped?.[1] ?? lower;
}

export type CidrResult = { ok: true; list: BlockList } | { ok: false; bad: string };

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (a /32 or /128). */
export function parseCidrs(cidrs: readonly string[]): CidrResult {
  const list = new BlockList();
  for (const raw of cidrs) {
    const [addr = '', bits, extra] = raw.trim().split('/');
    const ip = normaliseIp(addr);
    const family = isIP(ip);
    if (family === 0 || extra !== undefined) return { ok: false, bad: raw };
    const type = family === 4 ? 'ipv4' : 'ipv6';
    const max = family === 4 ? 32 : 128;
    if (bits === undefined) {
      list.addAddress(ip, type);
      continue;
    }
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return { ok: false, bad: raw };
    list.addSubnet(ip, Number(bits), type);
  }
  return { ok: true, list };
}

/** Throws at boot for a bad configured list, naming the entry (CIDRs are not secrets). */
export function cidrListOrThrow(name: string, cidrs: readonly string[]): BlockList {
  const r = parseCidrs(cidrs);
  if (!r.ok) throw new Error(`${name}: "${r.bad}" is not a CIDR or IP address`);
  return r.list;
}

export function ipIn(list: BlockList, ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}
