// What an attachment looks like to a person: its interfaces, addresses, routes and DNS from the
// result, the host ports and traffic shaping the runtime asked for, as small tables.
import { type CniResult, type NetworkConfigList, type RuntimeConf, currentResult, pluginObject } from '@cni-ts/libcni';
import { sections, table } from './table.js';

/** A port mapping as runtimes send it (the portMappings capability). */
interface PortMapping {
  hostPort?: number;
  containerPort?: number;
  protocol?: string;
  hostIP?: string;
}

/** Bandwidth limits in bit/s and bits (the bandwidth capability or the plugin's own keys). */
interface Bandwidth {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

/** The attachment as tables: interfaces, addresses, routes, DNS, host ports, shaping. */
export function showAttachment(list: NetworkConfigList, rt: RuntimeConf, result: CniResult | undefined): string {
  const head = `network ${list.name} (cniVersion ${list.cniVersion}) · container ${rt.containerID} · ${rt.ifName} in ${rt.netns}`;
  if (!result) return `${head}\n(no result)`;
  const r = currentResult(result);
  const ifaces = r.interfaces ?? [];
  const ifaceName = (i: number | undefined) => (i === undefined ? '' : (ifaces[i]?.name ?? `#${i}`));
  return sections(
    head,
    table(
      ['interface', 'mac', 'mtu', 'sandbox'],
      ifaces.map((i) => [i.name, i.mac ?? '', i.mtu ? String(i.mtu) : '', i.sandbox ?? '']),
    ),
    table(
      ['address', 'gateway', 'interface'],
      (r.ips ?? []).map((ip) => [ip.address, ip.gateway ?? '', ifaceName(ip.interface)]),
    ),
    table(
      ['route', 'via'],
      (r.routes ?? []).map((rt) => [rt.dst, rt.gw ?? '']),
    ),
    dnsLines(r.dns),
    table(
      ['host port', 'container port', 'protocol'],
      portMappings(list, rt).map((m) => [
        `${m.hostIP && m.hostIP !== '0.0.0.0' ? m.hostIP : '*'}:${m.hostPort ?? '?'}`,
        String(m.containerPort ?? '?'),
        m.protocol ?? 'tcp',
      ]),
    ),
    table(['shaping', 'rate', 'burst'], shapingRows(bandwidth(list, rt))),
  );
}

function dnsLines(dns: { nameservers?: string[]; domain?: string; search?: string[] } | undefined): string {
  const out: string[] = [];
  if (dns?.nameservers?.length) out.push(`dns: ${dns.nameservers.join(', ')}`);
  if (dns?.domain) out.push(`domain: ${dns.domain}`);
  if (dns?.search?.length) out.push(`search: ${dns.search.join(' ')}`);
  return out.join('\n');
}

// the capability args a plugin of the list declares (what libcni hands to it as runtimeConfig)
function delivered(list: NetworkConfigList, rt: RuntimeConf, cap: string): unknown {
  if (!rt.capabilityArgs || !Object.hasOwn(rt.capabilityArgs, cap)) return undefined;
  return list.plugins.some((p) => p.network.capabilities?.[cap]) ? rt.capabilityArgs[cap] : undefined;
}

/** The port mappings a portmap plugin of the list received. */
export function portMappings(list: NetworkConfigList, rt: RuntimeConf): PortMapping[] {
  const v = delivered(list, rt, 'portMappings');
  return Array.isArray(v) ? (v as PortMapping[]) : [];
}

/** The limits the bandwidth plugin applies: its own config keys win over runtimeConfig, as upstream. */
export function bandwidth(list: NetworkConfigList, rt: RuntimeConf): Bandwidth | undefined {
  const plugin = list.plugins.find((p) => p.network.type === 'bandwidth');
  if (!plugin) return undefined;
  const conf = pluginObject(plugin) as Bandwidth;
  const keys = ['ingressRate', 'ingressBurst', 'egressRate', 'egressBurst'] as const;
  if (keys.some((k) => conf[k] !== undefined)) return conf;
  const v = delivered(list, rt, 'bandwidth');
  return v && typeof v === 'object' ? (v as Bandwidth) : undefined;
}

function shapingRows(bw: Bandwidth | undefined): string[][] {
  if (!bw) return [];
  const rows: string[][] = [];
  if (bw.ingressRate) rows.push(['ingress (to the pod)', bitRate(bw.ingressRate), bits(bw.ingressBurst)]);
  if (bw.egressRate) rows.push(['egress (from the pod)', bitRate(bw.egressRate), bits(bw.egressBurst)]);
  return rows;
}

/** A rate in bit/s as a person writes it ("1 Mbit/s"). */
export function bitRate(v: number): string {
  for (const [unit, n] of [
    ['Gbit/s', 1e9],
    ['Mbit/s', 1e6],
    ['kbit/s', 1e3],
  ] as const)
    if (v >= n) return `${trim(v / n)} ${unit}`;
  return `${v} bit/s`;
}

function bits(v: number | undefined): string {
  if (!v) return '';
  return v >= 8 * 1024 ? `${trim(v / 8 / 1024)} KiB` : `${v} bit`;
}

function trim(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/0+$/, '');
}
