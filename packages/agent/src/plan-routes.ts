// Routes to the other nodes' pod CIDRs: planned from the node list (each pod CIDR via the peer's
// InternalIP of the same family), compared with the routes of our protocol that exist, and turned
// into the `ip route` commands of one batch. Pure: no Executor here.
import { formatIP, formatNetwork, mustParseIP, parsePrefix } from '@cni-ts/netaddr';
import type { NodeInfo } from './nodes.js';

/** One route the agent keeps: a peer's pod CIDR via the peer's address. */
export interface PodRoute {
  readonly dst: string;
  readonly via: string;
  readonly node: string;
}

/** A pod CIDR that cannot be routed, and why. */
export interface SkippedRoute {
  readonly node: string;
  readonly cidr: string;
  readonly reason: string;
}

/** The routes this node should have to every other node's pod CIDRs. */
export function planRoutes(self: string, nodes: readonly NodeInfo[]): { routes: PodRoute[]; skipped: SkippedRoute[] } {
  const routes: PodRoute[] = [];
  const skipped: SkippedRoute[] = [];
  for (const n of [...nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    if (n.name === self) continue;
    for (const cidr of n.podCIDRs) {
      const p = parsePrefix(cidr);
      if (!p) {
        skipped.push({ node: n.name, cidr, reason: 'not a CIDR' });
        continue;
      }
      const via = n.internalIPs.find((a) => {
        try {
          return mustParseIP(a).family === p.ip.family;
        } catch {
          return false;
        }
      });
      if (!via) {
        skipped.push({ node: n.name, cidr, reason: `no IPv${p.ip.family} InternalIP` });
        continue;
      }
      routes.push({ dst: formatNetwork(p), via: formatIP(mustParseIP(via)), node: n.name });
    }
  }
  return { routes, skipped };
}

/** A route of our protocol as `ip -j route show` prints it. */
export interface ObservedRoute {
  readonly dst: string;
  readonly gateway?: string;
}

/** The commands that turn the observed routes into the planned ones (empty when they agree). */
export function diffRoutes(want: readonly PodRoute[], have: readonly ObservedRoute[], proto: number): string[][] {
  const cmds: string[][] = [];
  const haveByDst = new Map(have.map((r) => [r.dst, r]));
  const wantDst = new Set(want.map((r) => r.dst));
  for (const r of have) if (!wantDst.has(r.dst)) cmds.push(['route', 'del', r.dst, 'proto', String(proto)]);
  for (const r of want) {
    const h = haveByDst.get(r.dst);
    if (h?.gateway !== r.via) cmds.push(['route', 'replace', r.dst, 'via', r.via, 'proto', String(proto)]);
  }
  return cmds;
}
