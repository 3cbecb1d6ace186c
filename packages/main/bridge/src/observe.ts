// Kernel state as `ip -j -d addr show` reports it, reduced to what the bridge plans against.
import { ipBatch, type Executor } from '@cni-ts/process';

/** One address of a link. */
export interface AddrState {
  family: 4 | 6;
  local: string;
  prefixlen: number;
  scope?: string;
  tentative: boolean;
  dadfailed: boolean;
}

/** A link as the planner sees it. */
export interface LinkState {
  name: string;
  ifindex: number;
  /** linkinfo kind: "bridge", "veth"… (undefined for plain devices or without -d). */
  kind?: string;
  mac: string;
  flags: string[];
  operstate: string;
  mtu: number;
  master?: string;
  /** For a veth: the peer's ifindex (in the netns named by linkNetnsid when set). */
  peerIndex?: number;
  vlanFiltering?: boolean;
  defaultPvid?: number;
  /** Bridge-port flags (when the link is a bridge port). */
  hairpin?: boolean;
  isolated?: boolean;
  addrs: AddrState[];
}

interface RawLink {
  ifindex?: number;
  ifname?: string;
  flags?: string[];
  mtu?: number;
  operstate?: string;
  address?: string;
  master?: string;
  link_index?: number;
  linkinfo?: {
    info_kind?: string;
    info_data?: { vlan_filtering?: number; vlan_default_pvid?: number };
    info_slave_data?: { hairpin?: boolean; isolated?: boolean };
  };
  addr_info?: Array<{
    family?: string;
    local?: string;
    prefixlen?: number;
    scope?: string;
    tentative?: boolean;
    dadfailed?: boolean;
  }>;
}

/** Turns one `ip -j [-d] link|addr show` document into LinkStates. */
export function parseLinks(doc: unknown): LinkState[] {
  if (!Array.isArray(doc)) return [];
  return (doc as RawLink[]).map((l) => {
    const info = l.linkinfo;
    const out: LinkState = {
      name: l.ifname ?? '',
      ifindex: l.ifindex ?? 0,
      mac: l.address ?? '',
      flags: l.flags ?? [],
      operstate: l.operstate ?? 'UNKNOWN',
      mtu: l.mtu ?? 0,
      addrs: (l.addr_info ?? [])
        .filter((a) => a.local && (a.family === 'inet' || a.family === 'inet6'))
        .map((a) => ({
          family: a.family === 'inet' ? 4 : 6,
          local: a.local!,
          prefixlen: a.prefixlen ?? 0,
          scope: a.scope,
          tentative: !!a.tentative,
          dadfailed: !!a.dadfailed,
        })),
    };
    if (info?.info_kind) out.kind = info.info_kind;
    if (l.master) out.master = l.master;
    if (l.link_index !== undefined) out.peerIndex = l.link_index;
    if (info?.info_data?.vlan_filtering !== undefined) out.vlanFiltering = info.info_data.vlan_filtering === 1;
    if (info?.info_data?.vlan_default_pvid !== undefined) out.defaultPvid = info.info_data.vlan_default_pvid;
    if (info?.info_slave_data) {
      out.hairpin = !!info.info_slave_data.hairpin;
      out.isolated = !!info.info_slave_data.isolated;
    }
    return out;
  });
}

/** Shows the named links (with details and addresses) in one ip process; names must exist. */
export function showLinks(exec: Executor, names: readonly string[], netns?: string): LinkState[] {
  const docs = ipBatch(
    exec,
    names.map((n) => ['addr', 'show', 'dev', n]),
    { netns, options: ['-d'] },
  );
  return docs.flatMap(parseLinks);
}

/** True when the link is in promiscuous mode. */
export function isPromisc(l: LinkState): boolean {
  return l.flags.includes('PROMISC');
}
