// One address range of a subnet: its canonical form (defaults filled in, as upstream's
// Range.Canonicalize), membership, overlap, and which addresses are never handed out.
import {
  type IP,
  type Prefix,
  formatIP,
  lastOf,
  networkOf,
  parseIP,
  parsePrefix,
  prefixContains,
} from '@cni-ts/netaddr';
import { configError } from '@cni-ts/types';

/** A range as users write it (ipam.ranges[i][j], the legacy ipam keys, runtimeConfig.ipRanges). */
export interface RawRange {
  subnet?: string | null;
  rangeStart?: string | null;
  rangeEnd?: string | null;
  gateway?: string | null;
}

/** A canonical range: start..end (inclusive) inside subnet, with its gateway. */
export interface Range {
  /** The subnet in network form (host bits clear). */
  subnet: Prefix;
  start: IP;
  end: IP;
  gateway: IP;
  /** Where the user wrote it, for messages (e.g. `ipam.ranges[0][1]`). */
  where: string;
}

/** An address with IPv4-mapped IPv6 (::ffff:a.b.c.d) turned into IPv4, as Go's To4() does. */
export function canonicalAddr(ip: IP): IP {
  if (ip.family === 6 && ip.value >> 32n === 0xffffn) return { family: 4, value: ip.value & 0xffffffffn };
  return ip;
}

/** Parses an address the user wrote at `where`, or throws a code-7 error naming it. */
export function parseAddr(text: string, where: string): IP {
  const ip = parseIP(text);
  if (!ip)
    throw configError(
      `${where}: "${text}" is not an IP address`,
      'write an address such as "10.1.0.2" or "2001:db8::2"',
    );
  return canonicalAddr(ip);
}

/** Fills in a range's defaults and checks it, like upstream, plus the checks upstream skips. */
export function canonicalRange(raw: RawRange, where: string): Range {
  if (!raw.subnet)
    throw configError(`${where}: "subnet" is missing`, 'every range needs a subnet such as "10.1.0.0/24"');
  const p = parsePrefix(raw.subnet);
  if (!p)
    throw configError(
      `${where}: subnet "${raw.subnet}" is not a valid CIDR`,
      'write the subnet as network/length, e.g. "10.1.0.0/24" or "2001:db8::/64"',
    );
  const bits = p.ip.family === 4 ? 32 : 128;
  if (p.bits > bits - 2) {
    throw configError(
      `${where}: network ${raw.subnet} is too small to allocate from`,
      `use a /${bits - 2} or larger subnet`,
    );
  }
  const net = networkOf(p);
  if (net.value !== p.ip.value) {
    throw configError(
      `${where}: network ${raw.subnet} has host bits set`,
      `for a /${p.bits} the network address is ${formatIP(net)}: write "${formatIP(net)}/${p.bits}"`,
    );
  }
  const subnet: Prefix = { ip: net, bits: p.bits };
  const first: IP = { family: net.family, value: net.value + 1n };
  const last = lastOf(subnet);
  const inside = (key: 'gateway' | 'rangeStart' | 'rangeEnd', fallback: IP): IP => {
    const text = raw[key];
    if (text === undefined || text === null || text === '') return fallback;
    const ip = parseAddr(text, `${where}.${key}`);
    if (!prefixContains(subnet, ip)) {
      throw configError(
        `${where}: ${key} ${formatIP(ip)} is outside subnet ${formatIP(net)}/${p.bits}`,
        `set ${key} to an address inside ${formatIP(net)}/${p.bits}, or leave it out`,
      );
    }
    return ip;
  };
  const gateway = inside('gateway', first);
  const start = inside('rangeStart', first);
  // IPv4 stops before the broadcast address; IPv6 has none and ends at the last address
  const end = inside('rangeEnd', net.family === 4 ? { family: 4, value: last.value - 1n } : last);
  if (start.value > end.value) {
    throw configError(
      `${where}: rangeStart ${formatIP(start)} is after rangeEnd ${formatIP(end)}`,
      "swap them, or leave either out to use the subnet's default",
    );
  }
  return { subnet, start, end, gateway, where };
}

/** True when ip lies in start..end of the range. */
export function rangeContains(r: Range, ip: IP): boolean {
  return ip.family === r.start.family && ip.value >= r.start.value && ip.value <= r.end.value;
}

/** True when two ranges share an address. */
export function rangesOverlap(a: Range, b: Range): boolean {
  return a.start.family === b.start.family && a.start.value <= b.end.value && b.start.value <= a.end.value;
}

/** Addresses never handed out: the gateway, the network address and the IPv4 broadcast address. */
export function isExcluded(r: Range, ip: IP): boolean {
  if (ip.value === r.gateway.value || ip.value === r.subnet.ip.value) return true;
  return r.subnet.ip.family === 4 && ip.value === lastOf(r.subnet).value;
}

/** How many addresses of the range can be handed out. */
export function rangeCapacity(r: Range): bigint {
  let n = r.end.value - r.start.value + 1n;
  const special = [r.gateway, r.subnet.ip, ...(r.subnet.ip.family === 4 ? [lastOf(r.subnet)] : [])];
  for (const v of new Set(special.map((ip) => ip.value))) if (v >= r.start.value && v <= r.end.value) n -= 1n;
  return n;
}

/** "start-end", as upstream prints a range. */
export function formatRange(r: Range): string {
  return `${formatIP(r.start)}-${formatIP(r.end)}`;
}
