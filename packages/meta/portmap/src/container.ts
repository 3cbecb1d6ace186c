// The container's addresses, taken from prevResult as upstream does: the first IPv4 and the first
// IPv6 address of CNI_IFNAME in the sandbox (addresses without an interface index count too).
// DEL reads them from the raw prevResult through skel's lenient view (containerNetsLenient):
// decoding the whole result builds the result schema, about 3 ms of a DEL's CPU
// (docs/performance.md), for two lists.
import { type Prefix, formatIP, parsePrefix } from '@cni-ts/netaddr';
import { type LenientResult, lenientResult } from '@cni-ts/skel';
import type { Result } from '@cni-ts/types';

/** One container address as the rules need it. */
export interface ContainerNet {
  family: 4 | 6;
  /** The address alone, e.g. "10.22.0.5" or "fd00::5". */
  ip: string;
  /** The address with its prefix as prevResult gives it. */
  prefix: Prefix;
}

/**
 * The first IPv4 and the first IPv6 address of `ifname` in prevResult (IPv4 first), decoded (ADD,
 * CHECK) or in skel's lenient view (DEL), where an entry that is no interface is not `ifname`.
 */
export function containerNets(prev: Result | LenientResult | undefined, ifname: string): ContainerNet[] {
  const found = new Map<4 | 6, ContainerNet>();
  const ifs = prev?.interfaces ?? [];
  for (const ip of prev?.ips ?? []) {
    const prefix = parsePrefix(ip.address);
    if (!prefix || found.has(prefix.ip.family)) continue;
    // upstream skips only indexes that point at a known interface not in the sandbox or not named ifname
    const idx = ip.interface;
    if (idx !== undefined && idx >= 0 && idx < ifs.length && (ifs[idx]?.name !== ifname || !ifs[idx]?.sandbox))
      continue;
    found.set(prefix.ip.family, { family: prefix.ip.family, ip: formatIP(prefix.ip), prefix });
  }
  return ([4, 6] as const).flatMap((f) => (found.has(f) ? [found.get(f)!] : []));
}

/**
 * containerNets of a raw prevResult (any version, keys in any case) read through skel's lenient
 * view, as DEL reads it: what is not what a result holds is skipped, never an error.
 */
export function containerNetsLenient(prev: unknown, ifname: string): ContainerNet[] {
  return containerNets(lenientResult(prev), ifname);
}
