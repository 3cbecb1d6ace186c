// The node side of ADD as data: the bridge, the veth pair (its container end created straight
// into CNI_NETNS), the port flags and VLANs, and the gateway addresses — checked against what
// the bridge already carries before anything changes.
//
//   node netns                                   pod netns (CNI_NETNS)
//   ┌────────────────────────────┐               ┌──────────────────┐
//   │ cni0 (bridge, gw addrs) ───┼─ vethXXXXXXXX ╪═ eth0 (IPAM addrs)│
//   │   └─ veth… ── cni0.<vlan>  │  (VLAN gateway, only with vlan + isGateway)
//   └────────────────────────────┘               └──────────────────┘
import { mustParsePrefix, prefixesOverlap } from '@cni-ts/netaddr';
import { CniError, ErrorCode } from '@cni-ts/types';
import type { BridgeConf } from './config.js';
import type { GatewayAddr } from './gateway.js';
import type { LinkState } from './observe.js';
import { portVlanCommands } from './vlan.js';

/** What the node plan is made from. */
export interface NodeInput {
  conf: BridgeConf;
  netns: string;
  ifname: string;
  /** The host end's name (random). */
  hostVeth: string;
  /** The bridge as observed; undefined when it does not exist yet. */
  bridge?: LinkState;
  /** `<bridge>.<vlan>` as observed, when it exists. */
  vlanGateway?: LinkState;
  /** Name for the bridge-side end of a new VLAN gateway veth. */
  vlanPeer: string;
  /** MAC for a new gateway bridge (pinned, so it never follows its ports). */
  newBridgeMac: string;
  gateways: readonly GatewayAddr[];
}

/** The node changes, in the order they run. */
export interface NodePlan {
  /** `ip link add` of a missing bridge, run on its own so a concurrent creation is tolerated. */
  createBridge?: string[];
  /** One `ip -batch` for the bridge and the port. */
  batch: string[][];
  /**
   * The gateway address changes, in their own `ip -batch` (only when there are any): an address
   * a concurrent ADD has just added is not an error.
   */
  gateway: string[][];
  /** One `bridge -batch` for VLAN entries (empty without VLANs). */
  vlans: string[][];
  /**
   * A new VLAN gateway veth, created in its own batch: when a concurrent ADD created it first
   * (its `link add` fails with "exists"), that ADD also finishes it.
   */
  newVlanGateway?: { batch: string[][]; vlans: string[][] };
  /** The bridge (accept_ra=0 is set on it once it exists). */
  bridge: string;
  /** accept_ra=0 on the veths created here (errors ignored, as upstream). */
  acceptRa: string[];
  /** Forwarding sysctls for families with a gateway on the bridge. */
  forwarding: Array<[string, string]>;
  /** The link that carries the gateway addresses: the bridge or `<bridge>.<vlan>`. */
  gatewayLink: string;
  /** Set when the result gets the VLAN gateway interface. */
  vlanGatewayName?: string;
}

/** `addr add` arguments; IPv4 gets a broadcast address as netlink's AddrAdd sets one. */
export function addrAdd(cidr: string, dev: string): string[] {
  const p = mustParsePrefix(cidr);
  return ['addr', 'add', cidr, ...(p.ip.family === 4 && p.bits < 31 ? ['broadcast', '+'] : []), 'dev', dev];
}

function linkAddBridge(c: BridgeConf, mac: string | undefined): string[] {
  return [
    'link',
    'add',
    'name',
    c.bridge,
    ...(c.mtu ? ['mtu', String(c.mtu)] : []),
    ...(mac ? ['address', mac] : []),
    'type',
    'bridge',
    ...(c.vlanFiltering ? ['vlan_filtering', '1'] : []),
  ];
}

/**
 * The address changes that put the gateways on `link` (upstream ensureAddr): an address already
 * there is kept; another IPv4 address, or an overlapping IPv6 one, is a conflict — an error
 * naming both, unless forceAddress deletes it. Pure: it throws before anything is changed.
 */
export function gatewayAddrCommands(
  c: BridgeConf,
  link: string,
  existing: readonly LinkState['addrs'][number][],
  gateways: readonly GatewayAddr[],
): string[][] {
  const cmds: string[][] = [];
  const wanted = new Set(gateways.map((g) => g.cidr));
  const deleted = new Set<string>();
  for (const g of gateways) {
    const gw = mustParsePrefix(g.cidr);
    if (existing.some((a) => `${a.local}/${a.prefixlen}` === g.cidr)) continue;
    for (const a of existing) {
      const cidr = `${a.local}/${a.prefixlen}`;
      if (a.family !== g.family || wanted.has(cidr) || deleted.has(cidr)) continue;
      const have = mustParsePrefix(cidr);
      const conflict = g.family === 4 || prefixesOverlap(have, gw);
      if (!conflict) continue;
      if (!c.forceAddress) {
        throw new CniError(
          ErrorCode.invalidConfig,
          `"${link}" already has an IP address different from ${g.cidr}`,
          `${link} carries ${cidr}; set "forceAddress": true to replace it, or give this network its own "bridge"`,
        );
      }
      cmds.push(['addr', 'del', cidr, 'dev', link]);
      deleted.add(cidr);
    }
    cmds.push(addrAdd(g.cidr, link));
  }
  return cmds;
}

/** Plans the node side of ADD (pure; throws on conflicts before anything is changed). */
export function planNode(i: NodeInput): NodePlan {
  const c = i.conf;
  const br = c.bridge;
  const vlanGw = c.vlan !== 0 && i.gateways.length > 0 ? `${br}.${c.vlan}` : undefined;
  const gatewayLink = vlanGw ?? br;
  const gwExisting = vlanGw ? (i.vlanGateway?.addrs ?? []) : (i.bridge?.addrs ?? []);
  const gwCmds = gatewayAddrCommands(c, gatewayLink, gwExisting, i.gateways);
  const pinMac = !vlanGw && gwCmds.some((cmd) => cmd[1] === 'add');
  const plan: NodePlan = {
    bridge: br,
    batch: [],
    gateway: gwCmds,
    vlans: [],
    acceptRa: [],
    forwarding: [],
    gatewayLink,
  };
  if (!i.bridge) plan.createBridge = linkAddBridge(c, pinMac ? i.newBridgeMac : undefined);
  if (c.promiscMode) plan.batch.push(['link', 'set', 'dev', br, 'promisc', 'on']);
  // a bridge seen up is left alone (one lookup and one request fewer per pod); a new one is set up
  if (!i.bridge?.flags.includes('UP')) plan.batch.push(['link', 'set', 'dev', br, 'up']);
  if (pinMac && i.bridge) plan.batch.push(['link', 'set', 'dev', br, 'address', i.bridge.mac]);
  const mtu = c.mtu ? ['mtu', String(c.mtu)] : [];
  // the host end is created up and a port of the bridge in the same request (IFLA_MASTER, IFF_UP)
  plan.batch.push([
    'link',
    'add',
    'name',
    i.hostVeth,
    ...mtu,
    'up',
    'master',
    br,
    'type',
    'veth',
    'peer',
    'name',
    i.ifname,
    ...(c.mac ? ['address', c.mac] : []),
    ...mtu,
    'netns',
    i.netns,
  ]);
  const portFlags = [...(c.hairpinMode ? ['hairpin', 'on'] : []), ...(c.portIsolation ? ['isolated', 'on'] : [])];
  if (portFlags.length) plan.batch.push(['link', 'set', 'dev', i.hostVeth, 'type', 'bridge_slave', ...portFlags]);
  plan.acceptRa.push(i.hostVeth);
  const defaultPvid = i.bridge?.defaultPvid ?? 1;
  plan.vlans.push(
    ...portVlanCommands(i.hostVeth, {
      vlan: c.vlan,
      vlans: c.vlans,
      preserveDefaultVlan: c.preserveDefaultVlan,
      defaultPvid,
    }),
  );
  if (vlanGw) {
    plan.vlanGatewayName = vlanGw;
    if (!i.vlanGateway) {
      const brMtu = c.mtu || i.bridge?.mtu || 0;
      plan.newVlanGateway = {
        batch: [
          [
            'link',
            'add',
            'name',
            vlanGw,
            ...(brMtu ? ['mtu', String(brMtu)] : []),
            'type',
            'veth',
            'peer',
            'name',
            i.vlanPeer,
          ],
          ['link', 'set', 'dev', i.vlanPeer, 'master', br],
          ['link', 'set', 'dev', i.vlanPeer, 'up'],
          ['link', 'set', 'dev', vlanGw, 'up'],
        ],
        vlans: portVlanCommands(i.vlanPeer, {
          vlan: c.vlan,
          vlans: [],
          preserveDefaultVlan: c.preserveDefaultVlan,
          defaultPvid,
        }),
      };
      plan.acceptRa.push(i.vlanPeer);
    }
  }
  for (const f of [4, 6] as const) {
    if (i.gateways.some((g) => g.family === f))
      plan.forwarding.push(f === 4 ? ['net/ipv4/ip_forward', '1'] : ['net/ipv6/conf/all/forwarding', '1']);
  }
  return plan;
}
