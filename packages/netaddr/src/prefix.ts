// IP prefixes ("10.1.0.5/24"): parsing, the network they name, membership and overlap.
import { type IP, parseIP, formatIP, bitsOf, maxOf } from './addr.js';

/** An address with a prefix length; the address may have host bits set (a CIDR "IPNet"). */
export interface Prefix {
  readonly ip: IP;
  readonly bits: number;
}

/** Parses "address/len"; undefined when either part is invalid. */
export function parsePrefix(text: string): Prefix | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(lenText)) return undefined;
  const bits = Number(lenText);
  if (bits > bitsOf(ip.family)) return undefined;
  return { ip, bits };
}

/** Like parsePrefix, but throws a plain Error naming the bad text. */
export function mustParsePrefix(text: string): Prefix {
  const p = parsePrefix(text);
  if (!p) throw new Error(`invalid CIDR "${text}"`);
  return p;
}

/** The mask of a prefix as an integer. */
export function maskOf(family: 4 | 6, bits: number): bigint {
  const total = BigInt(bitsOf(family));
  return ((maxOf(family) >> (total - BigInt(bits))) << (total - BigInt(bits))) & maxOf(family);
}

/** The network address (host bits cleared). */
export function networkOf(p: Prefix): IP {
  return { family: p.ip.family, value: p.ip.value & maskOf(p.ip.family, p.bits) };
}

/** The last address of the prefix (all host bits set; the IPv4 broadcast address). */
export function lastOf(p: Prefix): IP {
  const host = maxOf(p.ip.family) & ~maskOf(p.ip.family, p.bits);
  return { family: p.ip.family, value: networkOf(p).value | host };
}

/** True when the address lies inside the prefix. */
export function prefixContains(p: Prefix, ip: IP): boolean {
  return ip.family === p.ip.family && (ip.value & maskOf(ip.family, p.bits)) === networkOf(p).value;
}

/** True when two prefixes share any address. */
export function prefixesOverlap(a: Prefix, b: Prefix): boolean {
  return prefixContains(a, networkOf(b)) || prefixContains(b, networkOf(a));
}

/** "address/len" with the address as given (Go's types.IPNet form). */
export function formatPrefix(p: Prefix): string {
  return `${formatIP(p.ip)}/${p.bits}`;
}

/** "network/len" (Go's net.IPNet.String() form). */
export function formatNetwork(p: Prefix): string {
  return `${formatIP(networkOf(p))}/${p.bits}`;
}

/** True when the address part has bits set beyond the prefix length. */
export function hasHostBits(p: Prefix): boolean {
  return networkOf(p).value !== p.ip.value;
}
