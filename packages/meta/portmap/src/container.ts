// The container's addresses, taken from prevResult as upstream does: the first IPv4 and the first
// IPv6 address of CNI_IFNAME in the sandbox (addresses without an interface index count too).
import { type Prefix, formatIP, parsePrefix } from '@cni-ts/netaddr';
import type { Result } from '@cni-ts/types';

/** One container address as the rules need it. */
export interface ContainerNet {
  family: 4 | 6;
  /** The address alone, e.g. "10.22.0.5" or "fd00::5". */
  ip: string;
  /** The address with its prefix as prevResult gives it. */
  prefix: Prefix;
}

/** The first IPv4 and the first IPv6 address of `ifname` in prevResult (IPv4 first). */
export function containerNets(prev: Result | undefined, ifname: string): ContainerNet[] {
  const found = new Map<4 | 6, ContainerNet>();
  const ifs = prev?.interfaces ?? [];
  for (const ip of prev?.ips ?? []) {
    const prefix = parsePrefix(ip.address);
    if (!prefix || found.has(prefix.ip.family)) continue;
    // upstream skips only indexes that point at a known interface not in the sandbox or not named ifname
    const idx = ip.interface;
    if (idx !== undefined && idx >= 0 && idx < ifs.length && (ifs[idx]!.name !== ifname || !ifs[idx]!.sandbox))
      continue;
    found.set(prefix.ip.family, { family: prefix.ip.family, ip: formatIP(prefix.ip), prefix });
  }
  return ([4, 6] as const).flatMap((f) => (found.has(f) ? [found.get(f)!] : []));
}
