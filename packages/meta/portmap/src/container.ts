// The container's addresses, taken from prevResult as upstream does: the first IPv4 and the first
// IPv6 address of CNI_IFNAME in the sandbox (addresses without an interface index count too).
// DEL reads them from the raw prevResult leniently (containerNetsLenient): decoding the whole
// result builds the result schema, about 3 ms of a DEL's CPU (docs/performance.md), for two lists.
import { type Prefix, formatIP, parsePrefix } from '@cni-ts/netaddr';
import { pick } from '@cni-ts/skel';
import { type Result, isPlainObject } from '@cni-ts/types';

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

/**
 * containerNets of a raw prevResult (any version, keys in any case) read leniently, as DEL reads
 * it: what is not what a result holds is skipped, never an error. 0.1.0/0.2.0's `ip4.ip` and
 * `ip6.ip` count as addresses without an interface index, as the result conversion makes them.
 */
export function containerNetsLenient(prev: unknown, ifname: string): ContainerNet[] {
  if (!isPlainObject(prev)) return [];
  const ips: Array<{ address: string; interface?: number }> = [];
  const list = pick(prev, 'ips');
  if (Array.isArray(list)) {
    for (const ip of list) {
      const address = isPlainObject(ip) ? pick(ip, 'address') : undefined;
      if (typeof address !== 'string') continue;
      const idx = pick(ip as Record<string, unknown>, 'interface');
      ips.push(Number.isInteger(idx) ? { address, interface: idx as number } : { address });
    }
  }
  for (const legacy of ['ip4', 'ip6']) {
    const ip = pick(prev, legacy);
    const address = isPlainObject(ip) ? pick(ip, 'ip') : undefined;
    if (typeof address === 'string') ips.push({ address });
  }
  const interfaces: Array<{ name: string; sandbox?: string }> = [];
  const ifs = pick(prev, 'interfaces');
  if (Array.isArray(ifs)) {
    for (const i of ifs) {
      const name = isPlainObject(i) ? pick(i, 'name') : undefined;
      const sandbox = isPlainObject(i) ? pick(i, 'sandbox') : undefined;
      // an entry that is not an interface keeps its index, so the indexes of the others still match
      interfaces.push({
        name: typeof name === 'string' ? name : '',
        ...(typeof sandbox === 'string' ? { sandbox } : {}),
      });
    }
  }
  return containerNets({ cniVersion: '', ips, interfaces } as unknown as Result, ifname);
}
