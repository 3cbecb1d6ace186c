// The pod side of ADD as data (upstream's netns.Do block and ipam.ConfigureIface): sysctls on
// the container interface, then one ip batch with its addresses, link up and routes, ending with
// a read of the interface (its MAC, and whether IPv6 addresses are still tentative).
import { mustParsePrefix, parseIP } from '@cni-ts/netaddr';
import type { IPConfig, Route } from '@cni-ts/types';
import type { BridgeConf } from './config.js';
import { addrAdd } from './plan-node.js';

/** The pod changes. */
export interface PodPlan {
  /** Written (one process) before the batch, so they apply to the addresses added. */
  sysctls: Array<[string, string]>;
  /** Addresses, link up, routes, then `addr show dev <ifname>`. */
  batch: string[][];
  /** Wait for IPv6 DAD to settle before returning (there is an IPv6 gateway, as upstream). */
  settle: boolean;
}

/** `route add` arguments for one result route; a route without gw uses the family's first gateway. */
export function routeAdd(r: Route, dev: string, gw: string | undefined): string[] {
  return [
    'route',
    'add',
    r.dst,
    ...(gw ? ['via', gw] : []),
    'dev',
    dev,
    ...(r.priority ? ['metric', String(r.priority)] : []),
    ...(r.table !== undefined ? ['table', String(r.table)] : []),
    ...(r.scope !== undefined ? ['scope', String(r.scope)] : []),
    ...(r.mtu ? ['mtu', String(r.mtu)] : []),
    ...(r.advmss ? ['advmss', String(r.advmss)] : []),
  ];
}

/** Plans the container side of ADD for an L3 network (ips and routes already carry the bridge's gateways). */
export function planPodL3(
  c: BridgeConf,
  ifname: string,
  ips: readonly IPConfig[],
  routes: readonly Route[],
  hasIpv6: boolean,
): PodPlan {
  const sysctls: Array<[string, string]> = [];
  if (hasIpv6) {
    if (c.enabledad)
      sysctls.push([`net/ipv6/conf/${ifname}/enhanced_dad`, '1'], [`net/ipv6/conf/${ifname}/accept_dad`, '1']);
    else sysctls.push([`net/ipv6/conf/${ifname}/accept_dad`, '0']);
  }
  sysctls.push([`net/ipv4/conf/${ifname}/arp_notify`, '1']);
  const family = (a: string) => mustParsePrefix(a).ip.family;
  if (ips.some((ip) => family(ip.address) === 6)) {
    sysctls.push(
      ['net/ipv6/conf/lo/disable_ipv6', '0'],
      [`net/ipv6/conf/${ifname}/disable_ipv6`, '0'],
      [`net/ipv6/conf/${ifname}/keep_addr_on_down`, '1'],
    );
  }
  const firstGw: Partial<Record<4 | 6, string>> = {};
  for (const ip of ips) {
    const f = ip.gateway ? parseIP(ip.gateway)?.family : undefined;
    if (f) firstGw[f] ??= ip.gateway;
  }
  const batch: string[][] = ips.map((ip) => addrAdd(ip.address, ifname));
  batch.push(['link', 'set', 'dev', ifname, 'up']);
  for (const r of routes) batch.push(routeAdd(r, ifname, r.gw ?? firstGw[family(r.dst)]));
  batch.push(['addr', 'show', 'dev', ifname]);
  return { sysctls, batch, settle: firstGw[6] !== undefined };
}

/** Plans the container side of ADD for an L2-only network: the link up (unless disabled), then a read. */
export function planPodL2(c: BridgeConf, ifname: string): PodPlan {
  const batch: string[][] = c.disableContainerInterface ? [] : [['link', 'set', 'dev', ifname, 'up']];
  batch.push(['addr', 'show', 'dev', ifname]);
  return { sysctls: [], batch, settle: false };
}
