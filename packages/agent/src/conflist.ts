// The node's conflist, rendered from its pod CIDRs: the seed's chain — bridge with host-local
// (one range set per pod CIDR, so dual-stack nodes get an address of each family), portmap for
// hostPorts (marking through kube-proxy's KUBE-MARK-MASQ), bandwidth for the shaping annotations.
import { formatNetwork, mustParsePrefix } from '@cni-ts/netaddr';
import type { AgentConfig } from './config.js';

/** The conflist object for a node with these pod CIDRs (at most one per family, as Kubernetes allows). */
export function renderConflist(conf: AgentConfig['conflist'], podCIDRs: readonly string[]): Record<string, unknown> {
  if (podCIDRs.length === 0) throw new Error('the node has no podCIDRs yet');
  const prefixes = podCIDRs.map((c) => mustParsePrefix(c));
  const families = prefixes.map((p) => p.ip.family);
  if (new Set(families).size !== families.length)
    throw new Error(`podCIDRs ${podCIDRs.join(', ')} have two CIDRs of one family`);
  const bridge: Record<string, unknown> = {
    type: 'bridge',
    bridge: conf.bridge,
    isGateway: true,
    isDefaultGateway: true,
    ipMasq: false,
    hairpinMode: conf.hairpinMode,
  };
  if (conf.mtu !== undefined) bridge.mtu = conf.mtu;
  bridge.ipam = {
    type: 'host-local',
    ranges: prefixes.map((p) => [{ subnet: formatNetwork(p) }]),
    dataDir: conf.dataDir,
  };
  const plugins: Record<string, unknown>[] = [bridge];
  if (conf.portmap) {
    const portmap: Record<string, unknown> = { type: 'portmap', capabilities: { portMappings: true } };
    if (conf.externalSetMarkChain) portmap.externalSetMarkChain = conf.externalSetMarkChain;
    plugins.push(portmap);
  }
  if (conf.bandwidth) plugins.push({ type: 'bandwidth', capabilities: { bandwidth: true } });
  return { cniVersion: conf.cniVersion, name: conf.name, plugins };
}

/** The conflist as the file text (two-space JSON with a final newline). */
export function conflistText(list: Record<string, unknown>): string {
  return `${JSON.stringify(list, null, 2)}\n`;
}

/** The plugin types a conflist runs, IPAM included (each must be in the CNI bin dir). */
export function pluginTypes(list: Record<string, unknown>): string[] {
  const out = new Set<string>();
  for (const p of (list.plugins ?? []) as Array<{ type?: string; ipam?: { type?: string } }>) {
    if (p.type) out.add(p.type);
    if (p.ipam?.type) out.add(p.ipam.type);
  }
  return [...out];
}
