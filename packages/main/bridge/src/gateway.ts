// Gateways from the IPAM result (upstream calcGateways): every address is the container's
// (interface 2), a missing gateway becomes the subnet's first address when the bridge is the
// gateway, and isDefaultGateway adds a default route per family unless IPAM already gave one.
import { addIP, formatIP, formatPrefix, mustParsePrefix, networkOf, parseIP, parsePrefix } from '@cni-ts/netaddr';
import type { IPConfig, Route } from '@cni-ts/types';
import type { BridgeConf } from './config.js';

/** A gateway address as it goes on the bridge: "10.22.0.1/24". */
export interface GatewayAddr {
  family: 4 | 6;
  /** "ip/prefixlen" with the container address's prefix length. */
  cidr: string;
}

/** What calcGateways decides. */
export interface Gateways {
  ips: IPConfig[];
  routes: Route[];
  gateways: GatewayAddr[];
}

const DEFAULT_DST: Record<4 | 6, string> = { 4: '0.0.0.0/0', 6: '::/0' };

/** The first address after the network address of ip/prefix. */
export function gatewayFor(address: string): string {
  const gw = addIP(networkOf(mustParsePrefix(address)), 1n);
  if (!gw) throw new Error(`no gateway address after the network of ${address}`);
  return formatIP(gw);
}

function isDefault(dst: string, family: 4 | 6): boolean {
  const p = parsePrefix(dst);
  return !!p && p.bits === 0 && p.ip.family === family;
}

/** Applies the bridge's gateway rules to the IPAM addresses and routes (pure). */
export function calcGateways(conf: BridgeConf, ipamIps: readonly IPConfig[], ipamRoutes: readonly Route[]): Gateways {
  const ips: IPConfig[] = [];
  const routes: Route[] = [...ipamRoutes];
  const gateways: GatewayAddr[] = [];
  const defaultFound: Record<4 | 6, boolean> = { 4: false, 6: false };
  for (const ipc of ipamIps) {
    const prefix = mustParsePrefix(ipc.address);
    const family = prefix.ip.family;
    const out: IPConfig = { interface: 2, address: ipc.address };
    let gateway = ipc.gateway;
    if (!gateway && conf.isGateway) gateway = gatewayFor(ipc.address);
    if (gateway) out.gateway = gateway;
    ips.push(out);
    if (conf.isDefaultGateway && !defaultFound[family]) {
      defaultFound[family] = routes.some((r) => r.gw && isDefault(r.dst, family));
      if (!defaultFound[family]) {
        routes.push(gateway ? { dst: DEFAULT_DST[family], gw: gateway } : { dst: DEFAULT_DST[family] });
        defaultFound[family] = true;
      }
    }
    if (conf.isGateway && gateway && parseIP(gateway)?.family === family) {
      gateways.push({ family, cidr: formatPrefix({ ip: parseIP(gateway)!, bits: prefix.bits }) });
    }
  }
  return { ips, routes, gateways };
}
